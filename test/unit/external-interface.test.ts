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
const base = { iface: [] as string[], ifaceRegex: [] as string[], ifaceCanReach: '', publicIP: '', publicIPv6: '', enableIPv4: true, enableIPv6: false };

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

  it('refuses a regex that is not valid Go, naming the flag and the pattern', async () => {
    await assert.rejects(selectExternalInterface(host(), { ...base, ifaceRegex: ['(?=eth)'] }), /--iface-regex: could not compile the IP address regex '\(\?=eth\)': lookaround/);
  });
});

/**
 * Upstream's pkg/ipmatch test vectors (match_test.go TestLookupExtIface): a dummy0 with five IPv4 /32s and
 * 2001:db8::1/64 (plus the link-local address the kernel adds when it is up), a route to 172.16.32.254 via
 * 172.16.32.100. `lo` and `eth0` come first in kernel order, as on a real host.
 */
class UpstreamVectorHost extends MemoryKernel {
  override async routeGet(destination: IpAddress) {
    const lookup = await super.routeGet(destination);
    // The kernel's source choice for a route through 172.16.32.100 on dummy0 (the address equal to the gateway).
    return lookup && lookup.gateway?.toString() === '172.16.32.100' ? { ...lookup, prefSrc: IpAddress.parse('172.16.32.100') } : lookup;
  }
}

function upstreamVectorHost(): MemoryKernel {
  const global = (text: string) => ({ address: Cidr.parse(text), scope: 0, flags: IFA_F_PERMANENT });
  const kernel = new UpstreamVectorHost()
    .addLink({ index: 1, name: 'lo', mtu: 65536, up: true }, [{ address: Cidr.parse('127.0.0.1/8'), scope: 254, flags: IFA_F_PERMANENT }, { address: Cidr.parse('::1/128'), scope: 254, flags: IFA_F_PERMANENT }])
    .addLink({ index: 2, name: 'eth0', mtu: 1500, up: true }, [global('198.18.0.11/24'), global('fd00:198::11/64')])
    .addLink({ index: 7, name: 'dummy0', mtu: 1500, up: true }, [
      global('1.10.100.1/32'), global('192.168.200.128/32'), global('172.16.30.18/32'), global('172.16.31.200/32'), global('172.16.32.100/32'),
      { address: Cidr.parse('fe80::4c1f:1ff:fe2b:3c4d/64'), scope: 253, flags: IFA_F_PERMANENT },
      global('2001:db8::1/64'),
    ]);
  kernel.routes.set('via', { dst: Cidr.parse('172.16.32.254/32'), gateway: IpAddress.parse('172.16.32.100'), linkIndex: 7, table: 254, protocol: 3, type: 'unicast', onlink: false });
  return kernel;
}

describe('external interface selection: upstream pkg/ipmatch vectors', () => {
  const v4 = base;
  const dual = { ...base, enableIPv6: true };
  // [name, options, interface, IfaceAddr, IfaceV6Addr, ExtAddr]
  const vectors: Array<[string, typeof base, string, string | undefined, string | undefined, string | undefined]> = [
    ['ByIfRegexForIPv4', { ...v4, ifaceRegex: ['192\\.168\\.200\\.\\d+'] }, 'dummy0', '192.168.200.128', undefined, '192.168.200.128'],
    ['ByIfRegexForName', { ...v4, ifaceRegex: ['dummy\\d+'] }, 'dummy0', '1.10.100.1', undefined, '1.10.100.1'],
    ['ByName', { ...v4, iface: ['dummy0'] }, 'dummy0', '1.10.100.1', undefined, '1.10.100.1'],
    ['ByIPv4', { ...v4, iface: ['172.16.30.18'] }, 'dummy0', '172.16.30.18', undefined, '172.16.30.18'],
    // Upstream's test expects "2001:db8::1/64" from net.IP.String(), which never prints a prefix: the address is 2001:db8::1.
    ['ByIPv4DualStack', { ...dual, iface: ['172.16.30.18'] }, 'dummy0', '172.16.30.18', '2001:db8::1', '172.16.30.18'],
    ['ByIfRegexMatchPublicIPv4', { ...v4, ifaceRegex: ['172\\.16\\.30\\.\\d+'], publicIP: '172.16.31.200' }, 'dummy0', '172.16.30.18', undefined, '172.16.31.200'],
    ['ByIfCanReach', { ...v4, ifaceCanReach: '172.16.32.254' }, 'dummy0', '172.16.32.100', undefined, '172.16.32.100'],
    // Dual stack by regex: a v4 match and a v6 match on the same interface, each the matching address.
    ['ByIfRegexDualStack', { ...dual, ifaceRegex: ['^(172\\.16\\.31\\.|2001:db8::)'] }, 'dummy0', '172.16.31.200', '2001:db8::1', '172.16.31.200'],
    // A v4-only match on eth0 does not leak into a later name match (upstream carries it over).
    ['ByIfRegexDualStackNoLeak', { ...dual, ifaceRegex: ['^198\\.18\\.|dummy0'] }, 'dummy0', '1.10.100.1', '2001:db8::1', '1.10.100.1'],
    ['ByIfRegexLinkLocal', { ...base, enableIPv4: false, enableIPv6: true, ifaceRegex: ['^fe80:'] }, 'dummy0', undefined, 'fe80::4c1f:1ff:fe2b:3c4d', undefined],
  ];
  for (const [name, options, iface, ifaceAddr, ifaceV6Addr, extAddr] of vectors) {
    it(name, async () => {
      const { externalInterface: ext } = await selectExternalInterface(upstreamVectorHost(), options);
      assert.deepEqual(
        [ext.name, ext.ifaceAddr?.ip.toString(), ext.ifaceV6Addr?.ip.toString(), ext.extAddr?.toString()],
        [iface, ifaceAddr, ifaceV6Addr, extAddr],
      );
    });
  }
  it('never matches loopback addresses (not global or link-local unicast, as Go)', async () => {
    await assert.rejects(selectExternalInterface(upstreamVectorHost(), { ...v4, ifaceRegex: ['^127\\.'] }), /could not match pattern \^127/);
  });
});
