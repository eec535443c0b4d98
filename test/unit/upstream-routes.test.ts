/**
 * Taking over from upstream flanneld (daemon/upstream-routes.ts): which routes it left are provably its own
 * (proto boot, main table, on flannel's VXLAN devices), and adopting them re-marks exactly those as ours.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FLANNEL_ROUTE_PROTOCOL, type Link, MAIN_TABLE, type Route } from '../../src/dataplane/kernel-objects.js';
import { MemoryKernel } from '../../src/dataplane/memory-kernel.js';
import { RTPROT_BOOT, adoptUpstreamRoutes, upstreamRoutes } from '../../src/daemon/upstream-routes.js';
import { Cidr, IpAddress } from '../../src/net/ip.js';

const vxlan = (index: number, name: string, kind = 'vxlan'): Link => ({ index, name, mtu: 1450, up: true, kind, ...(kind === 'vxlan' ? { vxlan: { vni: 1, gbp: false } } : {}) });
const LINKS = [{ index: 2, name: 'eth0', mtu: 1500, up: true }, vxlan(3, 'flannel.1'), vxlan(4, 'flannel-v6.1'), vxlan(5, 'flannelx', 'vxlan'), vxlan(6, 'flannel.2', 'bridge')];
const route = (dst: string, linkIndex: number, extra: Partial<Route> = {}): Route => ({
  dst: Cidr.parse(dst), linkIndex, table: MAIN_TABLE, protocol: RTPROT_BOOT, type: 'unicast', onlink: true,
  ...(dst.includes(':') ? {} : { gateway: IpAddress.parse(dst.split('/')[0] as string) }), ...extra,
});

describe('upstreamRoutes', () => {
  const cases: Array<[string, Route, boolean]> = [
    ['a peer route on flannel.1 (proto boot, main table)', route('10.244.5.0/24', 3), true],
    ['a peer route on flannel-v6.1', route('fd00:10:244:5::/64', 4, { priority: 1024 }), true],
    ['ours already (proto 111)', route('10.244.6.0/24', 3, { protocol: FLANNEL_ROUTE_PROTOCOL }), false],
    ["the kernel's own (proto kernel)", route('fe80::/64', 3, { protocol: 2, onlink: false }), false],
    ['a static route someone added (proto static)', route('10.244.7.0/24', 3, { protocol: 4 }), false],
    ['another table', route('10.244.8.0/24', 3, { table: 100 }), false],
    ['a route on the uplink (host-gw: not provably flannel\'s)', route('10.244.9.0/24', 2), false],
    ['a device not named like flannel\'s', route('10.244.10.0/24', 5), false],
    ['flannel.2 that is no VXLAN device', route('10.244.11.0/24', 6), false],
    ['a blackhole', { ...route('10.244.12.0/24', 3), type: 'blackhole' }, false],
  ];
  for (const [name, candidate, expected] of cases) {
    it(`${name}: ${expected ? 'adopted' : 'left alone'}`, () => assert.deepEqual(upstreamRoutes(LINKS, [candidate]), expected ? [candidate] : []));
  }
});

describe('adoptUpstreamRoutes', () => {
  it('re-marks upstream\'s routes as ours and leaves every other route as it was', async () => {
    const kernel = new MemoryKernel();
    for (const link of LINKS) kernel.addLink(link);
    const theirs = route('10.244.5.0/24', 3);
    const someoneElses = route('10.99.0.0/24', 2, { gateway: IpAddress.parse('198.18.0.1') });
    await kernel.applyRouteOps([theirs, someoneElses].map((entry) => ({ kind: 'replace' as const, route: entry })));
    const result = await adoptUpstreamRoutes(kernel);
    assert.deepEqual(result, { adopted: [theirs], failures: [] });
    const after = await kernel.listRoutes();
    assert.deepEqual(after.map((entry) => `${entry.dst} proto ${entry.protocol}`).sort(), ['10.244.5.0/24 proto 111', '10.99.0.0/24 proto 3']);
    assert.deepEqual(await adoptUpstreamRoutes(kernel), { adopted: [], failures: [] }, 'nothing left to adopt on a restart');
  });
});
