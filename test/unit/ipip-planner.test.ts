import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ExternalInterface } from '../../src/backend/backend.js';
import { checkIpipConfig, parseIpipOptions } from '../../src/backend/ipip/ipip-options.js';
import { IpipPlanner } from '../../src/backend/ipip/ipip-planner.js';
import { describeRoute } from '../../src/dataplane/kernel-objects.js';
import { encodeLeaseAttrs } from '../../src/lease/lease.js';
import { Cidr, IpAddress } from '../../src/net/ip.js';
import { config, lease } from '../support/fixtures.js';

const ext: ExternalInterface = {
  linkIndex: 2, name: 'eth0', mtu: 1500, ifaceAddr: Cidr.parse('198.18.0.11/24'), extAddr: IpAddress.parse('203.0.113.11'), prefixes: [Cidr.parse('198.18.0.0/24')],
};
const own = lease('10.244.1.0/24', '203.0.113.11', 'ipip');
const planner = (backend: Record<string, unknown> = {}, iface: Partial<ExternalInterface> = {}) =>
  new IpipPlanner({ externalInterface: { ...ext, ...iface }, options: parseIpipOptions(backend) });

describe('ipip', () => {
  it('device flannel.ipip: local = interface IP, MTU − 20; lease with the public IP', () => {
    const ipip = planner();
    assert.deepEqual(ipip.device, { kind: 'ipip', name: 'flannel.ipip', local: IpAddress.parse('198.18.0.11'), mtu: 1480 });
    assert.equal(ipip.mtu, 1480);
    assert.equal(encodeLeaseAttrs(ipip.leaseAttrs), '{"PublicIP":"203.0.113.11","PublicIPv6":null,"BackendType":"ipip"}');
  });
  it('per peer: via its public IP, onlink, on flannel.ipip; DirectRouting puts on-link peers on the interface', () => {
    const peers = [lease('10.244.2.0/24', '198.18.0.12', 'ipip'), lease('10.244.3.0/24', '192.0.2.13', 'ipip'), lease('10.244.4.0/24', '198.18.0.14', 'vxlan')];
    const text = (backend: Record<string, unknown>) => {
      const plan = planner(backend).plan(own, peers);
      return [...plan.addresses.map((a) => `address ${a.address} dev ${a.linkName}`), ...plan.groups.flatMap((g) => g.routes.map(describeRoute)), ...plan.warnings];
    };
    assert.deepEqual(text({}), [
      'address 10.244.1.0/32 dev flannel.ipip',
      '10.244.2.0/24 via 198.18.0.12 dev flannel.ipip onlink',
      '10.244.3.0/24 via 192.0.2.13 dev flannel.ipip onlink',
      'ignoring peer 10.244.4.0/24: not ipip',
    ]);
    assert.deepEqual(text({ DirectRouting: true }).slice(1, 3), ['10.244.2.0/24 via 198.18.0.12 dev #2 onlink', '10.244.3.0/24 via 192.0.2.13 dev flannel.ipip onlink']);
  });
  it('checkPeer: BackendType ipip and an IPv4 public address', () => {
    const ipip = planner();
    assert.equal(ipip.checkPeer(lease('10.244.2.0/24', '198.18.0.12', 'ipip')), undefined);
    assert.deepEqual(ipip.checkPeer(lease('10.244.2.0/24', '198.18.0.12', 'host-gw')), { field: 'BackendType', value: '"host-gw"', reason: 'not ipip' });
    assert.equal(ipip.checkPeer(lease('10.244.2.0/24', '0.0.0.0', 'ipip'))?.field, 'PublicIP');
  });
  it("refuses what cannot work: IPv6, a bad DirectRouting, upstream's MTU too small, no IPv4 address", () => {
    assert.deepEqual(checkIpipConfig(config({ Backend: { Type: 'ipip', DirectRouting: true } })), []);
    assert.deepEqual(checkIpipConfig(config({ Backend: { Type: 'ipip', directrouting: 'yes' }, EnableIPv6: true, IPv6Network: 'fd00:10:244::/56' })), [
      'Backend.DirectRouting: expected true or false, got "yes"',
      'Backend.Type: ipip carries IPv4 only; EnableIPv6 needs another backend (vxlan, host-gw or wireguard)',
    ]);
    assert.deepEqual(checkIpipConfig(config({ Backend: { Type: 'ipip' } }), { name: 'eth0', mtu: 80 }), ['MTU 80 of iface eth0 is too small for ipip mode to work']);
    assert.throws(() => planner({}, { mtu: 20 }), /MTU 20 of iface eth0 is too small for ipip mode to work/);
    assert.throws(() => planner({}, { ifaceAddr: undefined }), /ipip: eth0 has no IPv4 address/);
  });
  it('returns the same group for an unchanged lease', () => {
    const ipip = planner();
    const peer = lease('10.244.2.0/24', '198.18.0.12', 'ipip');
    assert.equal(ipip.plan(own, [peer]).groups[0], ipip.plan(own, [peer, lease('10.244.3.0/24', '198.18.0.13', 'ipip')]).groups[0]);
  });
});
