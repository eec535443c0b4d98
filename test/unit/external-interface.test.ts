import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { selectExternalInterface } from '../../src/daemon/external-interface.js';
import { IFA_F_PERMANENT } from '../../src/dataplane/kernel-objects.js';
import { MemoryKernel } from '../../src/dataplane/memory-kernel.js';
import { Cidr, IpAddress } from '../../src/net/ip.js';

function host(): MemoryKernel {
  const kernel = new MemoryKernel()
    .addLink({ index: 1, name: 'lo', mtu: 65536, up: true }, [{ address: Cidr.parse('127.0.0.1/8'), scope: 254, flags: IFA_F_PERMANENT }])
    .addLink({ index: 2, name: 'eth0', mtu: 1500, up: true }, [{ address: Cidr.parse('198.18.0.11/24'), scope: 0, flags: IFA_F_PERMANENT }])
    .addLink({ index: 3, name: 'eth1', mtu: 9000, up: true }, [
      { address: Cidr.parse('fe80::1/64'), scope: 253, flags: IFA_F_PERMANENT },
      { address: Cidr.parse('198.19.0.5/16'), scope: 0, flags: IFA_F_PERMANENT },
    ]);
  kernel.routes.set('default', { dst: Cidr.parse('0.0.0.0/0'), gateway: IpAddress.parse('198.18.0.1'), linkIndex: 2, table: 254, protocol: 4, type: 'unicast', onlink: false });
  return kernel;
}
const base = { iface: [], ifaceRegex: [], ifaceCanReach: '', publicIP: '', publicIPv6: '', enableIPv4: true, enableIPv6: false };

describe('external interface selection', () => {
  it('defaults to the default-route interface', async () => {
    const { externalInterface } = await selectExternalInterface(host(), base);
    assert.deepEqual([externalInterface.name, externalInterface.extAddr?.toString(), externalInterface.mtu], ['eth0', '198.18.0.11', 1500]);
  });
  it('--iface by name or IP, in order, noting failures', async () => {
    const result = await selectExternalInterface(host(), { ...base, iface: ['eth9', '198.19.0.5'] });
    assert.equal(result.externalInterface.name, 'eth1');
    assert.match(result.notes[0] ?? '', /eth9/);
  });
  it('--iface-regex matches addresses first, then names', async () => {
    assert.equal((await selectExternalInterface(host(), { ...base, ifaceRegex: ['^198\\.19\\.'] })).externalInterface.name, 'eth1');
    assert.equal((await selectExternalInterface(host(), { ...base, ifaceRegex: ['^eth1$'] })).externalInterface.ifaceAddr?.toString(), '198.19.0.5/16');
  });
  it('--iface-can-reach uses the route lookup', async () => {
    assert.equal((await selectExternalInterface(host(), { ...base, ifaceCanReach: '198.19.7.7' })).externalInterface.name, 'eth1');
  });
  it('--public-ip without --iface picks the interface owning it', async () => {
    assert.equal((await selectExternalInterface(host(), { ...base, publicIP: '198.19.0.5' })).externalInterface.name, 'eth1');
    await assert.rejects(selectExternalInterface(host(), { ...base, publicIP: '203.0.113.5' }), /no interface has the public IP 203.0.113.5/);
  });
  it('fails clearly when nothing matches', async () => {
    await assert.rejects(selectExternalInterface(host(), { ...base, iface: ['nope'], ifaceRegex: ['zzz'] }), /Failed to find interface to use.*nope.*zzz/s);
  });
});
