import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ExternalInterface } from '../../src/backend/backend.js';
import { formatEndpoint } from '../../src/backend/wireguard/wireguard-control.js';
import { WireguardKey } from '../../src/backend/wireguard/wireguard-key.js';
import { parseWireguardOptions } from '../../src/backend/wireguard/wireguard-options.js';
import { type WireguardPlan, WireguardPlanner, isUpstreamPrivate6 } from '../../src/backend/wireguard/wireguard-planner.js';
import { describeRoute } from '../../src/dataplane/kernel-objects.js';
import { type Lease, NO_IPV4_SUBNET, UNSET_IPV4, encodeLeaseAttrs } from '../../src/lease/lease.js';
import { Cidr, IpAddress } from '../../src/net/ip.js';
import { config } from '../support/fixtures.js';

const OWN_KEY = WireguardKey.parse('+CHdOG05ooiJljSeZ6j2CPw+SG4mctyTHFuvoJ/YuWk=');
const OWN_PUBLIC = 'qBAi3u3tM9Vg8Hk/mKpRyNxjS5f6pZjlPtSDyo0NLSM=';
const PEER_PUBLIC = '39ER3qwOujYZ1aqOuGQi1ygSh2feLEqvMEc/5UgqwSU=';
const PEER2_PUBLIC = 'MHvMg8vCxGM3dQSLKtXS9kIVnf8UnFciaWZHS/Ht63Q=';
const PSK = 'u70T3IAJT2QOL31e23tNUzNKWE5m898u3eQfpPBfg2c=';
const ext: ExternalInterface = {
  linkIndex: 2, name: 'eth0', mtu: 1500, ifaceAddr: Cidr.parse('198.18.0.11/24'), extAddr: IpAddress.parse('198.18.0.11'),
  ifaceV6Addr: Cidr.parse('fd00:198::11/64'), extV6Addr: IpAddress.parse('fd00:198::11'), prefixes: [],
};
const dual = { EnableIPv6: true, IPv6Network: 'fd00:10:244::/56' };

function planner(backend: Record<string, unknown> = {}, extra: Record<string, unknown> = {}, iface: Partial<ExternalInterface> = {}): WireguardPlanner {
  const networkConfig = config({ Backend: { Type: 'wireguard', ...backend }, ...extra });
  return new WireguardPlanner({ config: networkConfig, externalInterface: { ...ext, ...iface }, options: parseWireguardOptions(networkConfig.backend), privateKey: OWN_KEY, implementation: 'kernel' });
}

function peer(subnet: string, publicIP: string, data: Record<string, unknown> | undefined, v6?: { subnet: string; ip?: string; data?: Record<string, unknown> }): Lease {
  return {
    subnet: Cidr.parse(subnet),
    ...(v6 ? { ipv6Subnet: Cidr.parse(v6.subnet) } : {}),
    attrs: {
      publicIP: IpAddress.parse(publicIP), backendType: 'wireguard',
      ...(data ? { backendData: data } : {}),
      ...(v6?.ip ? { publicIPv6: IpAddress.parse(v6.ip) } : {}),
      ...(v6?.data ? { backendV6Data: v6.data } : {}),
    },
  };
}
const own: Lease = { subnet: Cidr.parse('10.244.1.0/24'), ipv6Subnet: Cidr.parse('fd00:10:244:1::/64'), attrs: { publicIP: IpAddress.parse('198.18.0.11'), backendType: 'wireguard' } };
const dualPeer = (v4Port = 51820, v6Port = 51821, ip4 = '198.18.0.12', ip6 = 'fd00:198::12') =>
  peer('10.244.2.0/24', ip4, { PublicKey: PEER_PUBLIC, Port: v4Port }, { subnet: 'fd00:10:244:2::/64', ip: ip6, data: { PublicKey: PEER_PUBLIC, Port: v6Port } });

/** The plan as text: devices, addresses, routes, one line per desired WireGuard peer. */
function text(plan: WireguardPlan): string[] {
  return [
    ...plan.devices.map((d) => `device ${d.name} mtu ${d.mtu} port ${d.listenPort} key ${d.privateKey.publicKey().toString() === OWN_PUBLIC ? 'ours' : '?'}`),
    ...plan.addresses.map((a) => `address ${a.address} dev ${a.linkName}`),
    ...plan.groups.flatMap((g) => g.routes.map((r) => `route ${describeRoute(r)} scope ${r.scope}`)),
    ...plan.groups.flatMap((g) => g.wireguardPeers.map((p) =>
      `peer ${p.linkName} ${p.publicKey.toString().slice(0, 6)} endpoint ${p.endpoint ? formatEndpoint(p.endpoint) : '-'} allowed ${p.allowedIps.join(',')} keepalive ${p.persistentKeepaliveSeconds} psk ${p.presharedKey ? 'yes' : 'no'}`)),
    ...plan.warnings.map((w) => `warning ${w}`),
  ];
}

describe('wireguard planner', () => {
  it('IPv4, separate (default): flannel-wg, MTU − 80, /32, scope-link Network route, one peer per lease', () => {
    const wg = planner({ PersistentKeepaliveInterval: 25, PSK });
    assert.equal(wg.mtu, 1420);
    assert.equal(encodeLeaseAttrs(wg.leaseAttrs),
      `{"PublicIP":"198.18.0.11","PublicIPv6":"fd00:198::11","BackendType":"wireguard","BackendData":{"PublicKey":"${OWN_PUBLIC}","Port":51820}}`);
    assert.deepEqual(text(wg.plan(own, [peer('10.244.2.0/24', '198.18.0.12', { PublicKey: PEER_PUBLIC, Port: 51820 }), peer('10.244.3.0/24', '198.18.0.13', { PublicKey: PEER2_PUBLIC, Port: 0 })])), [
      'device flannel-wg mtu 1420 port 51820 key ours',
      'address 10.244.1.0/32 dev flannel-wg',
      'route 10.244.0.0/16 dev flannel-wg scope 253',
      'peer flannel-wg 39ER3q endpoint 198.18.0.12:51820 allowed 10.244.2.0/24 keepalive 25 psk yes',
      'peer flannel-wg MHvMg8 endpoint 198.18.0.13:51820 allowed 10.244.3.0/24 keepalive 25 psk yes',
    ]);
  });
  it("uses the peer's published port, and Backend.MTU", () => {
    const wg = planner({ MTU: 9000, ListenPort: 4000 });
    assert.equal(wg.mtu, 8920);
    assert.deepEqual(text(wg.plan(own, [peer('10.244.2.0/24', '198.18.0.12', { PublicKey: PEER_PUBLIC, Port: 5555 }), peer('10.244.3.0/24', '198.18.0.13', { PublicKey: PEER2_PUBLIC })])).filter((l) => l.startsWith('peer')), [
      'peer flannel-wg 39ER3q endpoint 198.18.0.12:5555 allowed 10.244.2.0/24 keepalive 0 psk no',
      'peer flannel-wg MHvMg8 endpoint 198.18.0.13:4000 allowed 10.244.3.0/24 keepalive 0 psk no',
    ]);
  });
  it('dual stack, separate: two devices, each family its own peer, port and Network route', () => {
    const wg = planner({}, dual);
    assert.equal(encodeLeaseAttrs(wg.leaseAttrs),
      `{"PublicIP":"198.18.0.11","PublicIPv6":"fd00:198::11","BackendType":"wireguard","BackendData":{"PublicKey":"${OWN_PUBLIC}","Port":51820},"BackendV6Data":{"PublicKey":"${OWN_PUBLIC}","Port":51821}}`);
    assert.deepEqual(text(wg.plan(own, [dualPeer(51820, 0)])), [
      'device flannel-wg mtu 1420 port 51820 key ours',
      'device flannel-wg-v6 mtu 1420 port 51821 key ours',
      'address 10.244.1.0/32 dev flannel-wg',
      'address fd00:10:244:1::/128 dev flannel-wg-v6',
      'route 10.244.0.0/16 dev flannel-wg scope 253',
      'route fd00:10:244::/56 dev flannel-wg-v6 scope 253',
      'peer flannel-wg 39ER3q endpoint 198.18.0.12:51820 allowed 10.244.2.0/24 keepalive 0 psk no',
      'peer flannel-wg-v6 39ER3q endpoint [fd00:198::12]:51821 allowed fd00:10:244:2::/64 keepalive 0 psk no',
    ]);
  });
  it('single-device modes: one peer with both subnets; the endpoint family by Mode', () => {
    const cases: Array<[string, string]> = [
      ['ipv4', '198.18.0.12:51820'],
      ['ipv6', '[fd00:198::12]:51820'],
      ['auto', '198.18.0.12:51820'], // both ULA / RFC 1918: IPv4
    ];
    for (const [mode, endpoint] of cases) {
      const wg = planner({ Mode: mode }, dual);
      assert.equal(JSON.stringify(wg.leaseAttrs.backendV6Data), `{"PublicKey":"${OWN_PUBLIC}","Port":51820}`, 'the port the single device listens on');
      assert.deepEqual(text(wg.plan(own, [dualPeer(51820, 51820)])), [
        'device flannel-wg mtu 1420 port 51820 key ours',
        'address 10.244.1.0/32 dev flannel-wg',
        'address fd00:10:244:1::/128 dev flannel-wg',
        'route 10.244.0.0/16 dev flannel-wg scope 253',
        'route fd00:10:244::/56 dev flannel-wg scope 253',
        `peer flannel-wg 39ER3q endpoint ${endpoint} allowed 10.244.2.0/24,fd00:10:244:2::/64 keepalive 0 psk no`,
      ], mode);
    }
  });
  it("auto follows upstream's selectMode", () => {
    const endpointOf = (peerLease: Lease, iface: Partial<ExternalInterface> = {}) =>
      text(planner({ Mode: 'auto' }, dual, iface).plan(own, [peerLease])).find((line) => line.startsWith('peer'))?.split(' ')[4];
    assert.equal(endpointOf(dualPeer(1, 2, '203.0.113.5', '2001:db8::5')), '203.0.113.5:1', 'public IPv4 and we have IPv4');
    assert.equal(endpointOf(dualPeer(1, 2, '10.0.0.5', '2001:db8::5'), { extV6Addr: IpAddress.parse('2001:db8::11') }), '[2001:db8::5]:2', 'private IPv4, both IPv6 global');
    assert.equal(endpointOf(dualPeer(1, 2, '10.0.0.5', '2001:db8::5')), '10.0.0.5:1', 'our IPv6 is ULA');
    assert.equal(endpointOf(peer('10.244.2.0/24', '10.0.0.5', { PublicKey: PEER_PUBLIC, Port: 1 }, { subnet: 'fd00:10:244:2::/64', data: { PublicKey: PEER_PUBLIC, Port: 2 } })), '10.0.0.5:1', 'no peer IPv6');
    assert.ok(isUpstreamPrivate6(IpAddress.parse('fd12::1')) && !isUpstreamPrivate6(IpAddress.parse('2001:db8::1')));
    assert.ok(isUpstreamPrivate6(IpAddress.parse('::fc00:0:0:1')), "big.Int.Bytes() drops leading zeros: upstream's quirk kept");
  });
  it('IPv6 only: no BackendData, the v6 device and a peer keyed by BackendV6Data', () => {
    const wg = planner({}, { EnableIPv4: false, EnableIPv6: true, IPv6Network: 'fd00:10:244::/56' }, { extAddr: undefined });
    const v6only: Lease = { subnet: NO_IPV4_SUBNET, ipv6Subnet: Cidr.parse('fd00:10:244:2::/64'), attrs: { publicIP: UNSET_IPV4, publicIPv6: IpAddress.parse('fd00:198::12'), backendType: 'wireguard', backendV6Data: { PublicKey: PEER_PUBLIC, Port: 51821 } } };
    assert.equal(encodeLeaseAttrs(wg.leaseAttrs), `{"PublicIP":"0.0.0.0","PublicIPv6":"fd00:198::11","BackendType":"wireguard","BackendV6Data":{"PublicKey":"${OWN_PUBLIC}","Port":51821}}`);
    assert.deepEqual(text(wg.plan({ ...own, subnet: NO_IPV4_SUBNET }, [v6only])), [
      'device flannel-wg-v6 mtu 1420 port 51821 key ours',
      'address fd00:10:244:1::/128 dev flannel-wg-v6',
      'route fd00:10:244::/56 dev flannel-wg-v6 scope 253',
      'peer flannel-wg-v6 39ER3q endpoint [fd00:198::12]:51821 allowed fd00:10:244:2::/64 keepalive 0 psk no',
    ]);
    assert.equal(wg.checkPeer(v6only), undefined);
  });
  it('checkPeer names what cannot work; plan skips and warns instead of guessing', () => {
    const wg = planner({}, dual);
    const table: Array<[Lease, string | undefined]> = [
      [dualPeer(), undefined],
      [{ ...dualPeer(), attrs: { ...dualPeer().attrs, backendType: 'vxlan' } }, 'BackendType "vxlan": not wireguard'],
      [peer('10.244.2.0/24', '198.18.0.12', undefined, { subnet: 'fd00:10:244:2::/64', ip: 'fd00:198::12', data: { PublicKey: PEER_PUBLIC } }), 'BackendData (none): expected an object with PublicKey and Port'],
      [peer('10.244.2.0/24', '198.18.0.12', { PublicKey: PEER_PUBLIC }, { subnet: 'fd00:10:244:2::/64', ip: 'fd00:198::12', data: { PublicKey: 'no pe' } }), 'BackendV6Data.PublicKey "no pe": not base64 (5 characters)'],
      [peer('10.244.2.0/24', '198.18.0.12', { PublicKey: OWN_PUBLIC }), 'BackendData.PublicKey "' + OWN_PUBLIC + '": our own public key (two hosts share one key file?)'],
    ];
    for (const [lease, expected] of table) {
      const problem = wg.checkPeer(lease);
      assert.equal(problem ? `${problem.field} ${problem.value}: ${problem.reason}` : undefined, expected);
    }
    const plan = wg.plan(own, [peer('10.244.5.0/24', '198.18.0.15', { PublicKey: 'nope' }, { subnet: 'fd00:10:244:5::/64', ip: 'fd00:198::15', data: { PublicKey: PEER_PUBLIC } })]);
    assert.deepEqual(plan.groups.flatMap((g) => g.wireguardPeers), []);
    assert.match(plan.warnings.join(), /peer 10\.244\.5\.0\/24 has no usable BackendData\.PublicKey/);
  });
  it('two leases with one public key: the later one is skipped with a warning', () => {
    const wg = planner();
    const first = peer('10.244.2.0/24', '198.18.0.12', { PublicKey: PEER_PUBLIC, Port: 1 });
    const clone = peer('10.244.3.0/24', '198.18.0.13', { PublicKey: PEER_PUBLIC, Port: 1 });
    const plan = wg.plan(own, [first, clone]);
    assert.deepEqual(plan.groups.flatMap((g) => g.wireguardPeers.map((p) => p.allowedIps.join())), ['10.244.2.0/24']);
    assert.deepEqual(plan.warnings, ['wireguard: peers 10.244.2.0/24 and 10.244.3.0/24 publish the same PublicKey; 10.244.3.0/24 skipped']);
  });
  it('a peer without an address of the chosen family is configured without an endpoint, and said so', () => {
    const wg = planner({ Mode: 'ipv6' }, dual);
    const lease = peer('10.244.2.0/24', '198.18.0.12', { PublicKey: PEER_PUBLIC }, { subnet: 'fd00:10:244:2::/64', data: { PublicKey: PEER_PUBLIC } });
    assert.deepEqual(text(wg.plan(own, [lease])).slice(-2), [
      'peer flannel-wg 39ER3q endpoint - allowed 10.244.2.0/24,fd00:10:244:2::/64 keepalive 0 psk no',
      'warning wireguard: peer 10.244.2.0/24 publishes no IPv6 address for flannel-wg; configured without an endpoint (it can still reach us)',
    ]);
  });
  it('returns the same group object for an unchanged lease (O(peer) diffs)', () => {
    const wg = planner();
    const lease = peer('10.244.2.0/24', '198.18.0.12', { PublicKey: PEER_PUBLIC, Port: 1 });
    const first = wg.plan(own, [lease]);
    const second = wg.plan(own, [lease, peer('10.244.3.0/24', '198.18.0.13', { PublicKey: PEER2_PUBLIC })]);
    assert.equal(first.groups[1], second.groups[1]);
    assert.equal(first.groups[0], second.groups[0], 'the Network route group is fixed');
  });
});
