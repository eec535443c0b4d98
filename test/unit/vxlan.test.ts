import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Backend, ExternalInterface } from '../../src/backend/backend.js';
import { derivedVtepMac } from '../../src/backend/vxlan/vtep-mac.js';
import { createVxlanBackend } from '../../src/backend/vxlan/vxlan-backend.js';
import { parseVxlanOptions } from '../../src/backend/vxlan/vxlan-options.js';
import { encodeLeaseAttrs, type Lease } from '../../src/lease/lease.js';
import { neighboursOf, routesOf } from '../../src/dataplane/desired-state.js';
import type { VxlanDevice } from '../../src/dataplane/devices.js';
import { Cidr, IpAddress } from '../../src/net/ip.js';
import { MacAddress } from '../../src/net/mac.js';
import { config } from '../support/fixtures.js';
import { kernelText } from '../support/golden.js';
import { hostKernel, settle, withReconciler } from '../support/reconcile.js';

const ext: ExternalInterface = {
  linkIndex: 2, name: 'eth0', mtu: 1500, ifaceAddr: Cidr.parse('198.18.0.11/24'), extAddr: IpAddress.parse('198.18.0.11'),
  ifaceV6Addr: Cidr.parse('fd00:198::11/64'), extV6Addr: IpAddress.parse('fd00:198::11'),
  prefixes: [Cidr.parse('198.18.0.0/24'), Cidr.parse('fd00:198::/64')],
};
const vxlanConfig = (backend: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) => config({ Backend: { Type: 'vxlan', ...backend }, ...extra });
const dual = { EnableIPv6: true, IPv6Network: 'fd00:10:244::/56' };

function peer(subnet: string, publicIP: string, mac: string, extra: Partial<Lease> = {}, v6?: { subnet: string; ip: string; mac: string }): Lease {
  return {
    subnet: Cidr.parse(subnet),
    ...(v6 ? { ipv6Subnet: Cidr.parse(v6.subnet) } : {}),
    attrs: {
      publicIP: IpAddress.parse(publicIP), backendType: 'vxlan', backendData: { VNI: 1, VtepMAC: mac },
      ...(v6 ? { publicIPv6: IpAddress.parse(v6.ip), backendV6Data: { VNI: 1, VtepMAC: v6.mac } } : {}),
    },
    ...extra,
  };
}
/** The backend's devices, all vxlan. */
const vxlanDevices = (backend: Backend): VxlanDevice[] => (backend.devices ?? []).filter((device): device is VxlanDevice => device.kind === 'vxlan');
const own: Lease = { subnet: Cidr.parse('10.244.1.0/24'), ipv6Subnet: Cidr.parse('fd00:10:244:1::/64'), attrs: { publicIP: IpAddress.parse('198.18.0.11'), backendType: 'vxlan' } };

describe('vxlan options', () => {
  it('defaults as upstream (VNI 1, port 8472)', () => {
    assert.deepEqual(parseVxlanOptions({ Type: 'vxlan' }), { vni: 1, port: 8472, gbp: false, learning: false, directRouting: false });
  });
  it('decodes case-insensitively', () => {
    assert.deepEqual(parseVxlanOptions({ type: 'vxlan', vni: 4, port: 4789, mtu: 9000, gbp: true, learning: true, directrouting: true }),
      { vni: 4, port: 4789, mtu: 9000, gbp: true, learning: true, directRouting: true });
  });
  it('reports every bad field with its value', () => {
    assert.throws(() => parseVxlanOptions({ VNI: 1 << 24, Port: 'x', Learning: 1 }), (error: Error) =>
      /Backend\.VNI: .*16777216/.test(error.message) && /Backend\.Port: .*"x"/.test(error.message) && /Backend\.Learning: .*1/.test(error.message));
  });
});

describe('vxlan planner', () => {
  it('publishes upstream-format BackendData with a stable MAC and MTU − 50', () => {
    const backend = createVxlanBackend({ config: vxlanConfig(), externalInterface: ext });
    const mac = derivedVtepMac(IpAddress.parse('198.18.0.11'), 1).toString();
    assert.equal(encodeLeaseAttrs(backend.leaseAttrs), `{"PublicIP":"198.18.0.11","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"${mac}"}}`);
    assert.equal(backend.mtu, 1450);
    assert.equal(derivedVtepMac(IpAddress.parse('198.18.0.11'), 1).toString(), mac, 'same on every start');
    assert.notEqual(derivedVtepMac(IpAddress.parse('198.18.0.12'), 1).toString(), mac);
  });
  it('keeps the MAC of an existing compatible device, not of an incompatible one', () => {
    const existing = { index: 7, name: 'flannel.1', mtu: 1450, up: true, kind: 'vxlan', mac: MacAddress.parse('0a:00:00:00:00:07'),
      vxlan: { vni: 1, port: 8472, local: IpAddress.parse('198.18.0.11'), underlayIndex: 2, learning: false, gbp: false } };
    assert.equal(vxlanDevices(createVxlanBackend({ config: vxlanConfig(), externalInterface: ext, links: [existing] }))[0]?.mac.toString(), '0a:00:00:00:00:07');
    const other = { ...existing, vxlan: { ...existing.vxlan, vni: 9 } };
    assert.notEqual(vxlanDevices(createVxlanBackend({ config: vxlanConfig(), externalInterface: ext, links: [other] }))[0]?.mac.toString(), '0a:00:00:00:00:07');
  });
  it('chooses the VTEP MAC: existing compatible device, then the stored MAC (per family), then derived', () => {
    const existing = { index: 7, name: 'flannel.1', mtu: 1450, up: true, kind: 'vxlan', mac: MacAddress.parse('0a:00:00:00:00:07'),
      vxlan: { vni: 1, port: 8472, local: IpAddress.parse('198.18.0.11'), underlayIndex: 2, learning: false, gbp: false } };
    const incompatible = { ...existing, vxlan: { ...existing.vxlan, vni: 9 } };
    const stored = { v4: MacAddress.parse('0a:00:00:00:00:44'), v6: MacAddress.parse('0a:00:00:00:00:66') };
    const derived = derivedVtepMac(IpAddress.parse('198.18.0.11'), 1).toString();
    const cases: Array<[string, Parameters<typeof createVxlanBackend>[0], string]> = [
      ['existing beats stored', { config: vxlanConfig(), externalInterface: ext, links: [existing], storedVtepMacs: stored }, '0a:00:00:00:00:07'],
      ['stored beats derived when the device is incompatible', { config: vxlanConfig(), externalInterface: ext, links: [incompatible], storedVtepMacs: stored }, '0a:00:00:00:00:44'],
      ['stored when there is no device', { config: vxlanConfig(), externalInterface: ext, storedVtepMacs: stored }, '0a:00:00:00:00:44'],
      ['derived without a stored MAC of this family', { config: vxlanConfig(), externalInterface: ext, storedVtepMacs: { v6: stored.v6 } }, derived],
      ['derived when the stored MAC is multicast', { config: vxlanConfig(), externalInterface: ext, storedVtepMacs: { v4: MacAddress.parse('01:00:5e:00:00:01') } }, derived],
      ['derived when the stored MAC is all zero', { config: vxlanConfig(), externalInterface: ext, storedVtepMacs: { v4: MacAddress.parse('00:00:00:00:00:00') } }, derived],
    ];
    for (const [name, context, mac] of cases) {
      const backend = createVxlanBackend(context);
      assert.equal(vxlanDevices(backend)[0]?.mac.toString(), mac, name);
      assert.deepEqual(backend.leaseAttrs.backendData, { VNI: 1, VtepMAC: mac }, `${name}: published`);
    }
    const dualBackend = createVxlanBackend({ config: vxlanConfig({}, dual), externalInterface: ext, storedVtepMacs: stored });
    assert.deepEqual(vxlanDevices(dualBackend).map((device) => `${device.name} ${device.mac}`), ['flannel.1 0a:00:00:00:00:44', 'flannel-v6.1 0a:00:00:00:00:66']);
  });
  it('honours MTU, GBP and Learning', () => {
    const backend = createVxlanBackend({ config: vxlanConfig({ MTU: 9000, GBP: true, Learning: true, VNI: 7 }), externalInterface: { ...ext, mtu: 9000 } });
    const [device] = vxlanDevices(backend);
    assert.deepEqual([backend.mtu, device?.name, device?.gbp, device?.learning], [8950, 'flannel.7', true, true]);
    assert.equal(createVxlanBackend({ config: vxlanConfig({ MTU: 1400 }), externalInterface: ext }).mtu, 1350, 'below the underlay’s: fine');
  });
  const refused: Array<[string, Record<string, unknown>, Record<string, unknown>, Partial<ExternalInterface>, RegExp]> = [
    ['an MTU above the underlay’s', { MTU: 9000 }, {}, {}, /Backend\.MTU: 9000 is above the MTU of eth0 \(1500\)/],
    ['a device name longer than 15 characters', { VNI: 16777215 }, {}, {}, /flannel\.16777215 \(16 characters\)/],
    ['an IPv6 device name longer than 15 characters', { VNI: 10000 }, dual, {}, /flannel-v6\.10000/],
    ['an underlay too small for the IPv6 device', {}, dual, { mtu: 1300 }, /the MTU of eth0 \(1300\) leaves 1230 for flannel-v6\.1, below IPv6's minimum of 1280/],
  ];
  for (const [name, backend, extra, iface, pattern] of refused) {
    it(`refuses at start ${name}`, () => {
      assert.throws(() => createVxlanBackend({ config: vxlanConfig(backend, extra), externalInterface: { ...ext, ...iface } }), pattern);
    });
  }
  it('plans exactly one route, neighbour and FDB entry per peer', () => {
    const backend = createVxlanBackend({ config: vxlanConfig(), externalInterface: ext });
    const plan = backend.plan(own, [peer('10.244.2.0/24', '198.18.0.12', '02:00:00:00:00:12'), peer('10.244.3.0/24', '203.0.113.3', '02:00:00:00:00:13')]);
    assert.deepEqual(routesOf(plan).map((r) => `${r.dst} via ${r.gateway} dev ${r.linkName} onlink=${r.onlink}`),
      ['10.244.2.0/24 via 10.244.2.0 dev flannel.1 onlink=true', '10.244.3.0/24 via 10.244.3.0 dev flannel.1 onlink=true']);
    assert.deepEqual(neighboursOf(plan).map((n) => `${n.kind} ${n.ip} ${n.mac}`), [
      'neigh 10.244.2.0 02:00:00:00:00:12', 'fdb 198.18.0.12 02:00:00:00:00:12', 'neigh 10.244.3.0 02:00:00:00:00:13', 'fdb 203.0.113.3 02:00:00:00:00:13',
    ]);
    assert.deepEqual(plan.addresses.map((a) => `${a.address} ${a.linkName}`), ['10.244.1.0/32 flannel.1']);
  });
  it('DirectRouting: on-link peers get a plain route, the others vxlan', () => {
    const backend = createVxlanBackend({ config: vxlanConfig({ DirectRouting: true }), externalInterface: ext });
    const plan = backend.plan(own, [peer('10.244.2.0/24', '198.18.0.12', '02:00:00:00:00:12'), peer('10.244.3.0/24', '203.0.113.3', '02:00:00:00:00:13')]);
    assert.deepEqual(routesOf(plan).map((r) => `${r.dst} via ${r.gateway} ${r.linkName ?? `#${r.linkIndex}`}`),
      ['10.244.2.0/24 via 198.18.0.12 #2', '10.244.3.0/24 via 10.244.3.0 flannel.1']);
    assert.equal(neighboursOf(plan).length, 2);
  });
  it('warns about peers it cannot program and keeps the rest', () => {
    const backend = createVxlanBackend({ config: vxlanConfig(), externalInterface: ext });
    const plan = backend.plan(own, [
      peer('10.244.2.0/24', '198.18.0.12', 'not-a-mac'),
      peer('10.244.3.0/24', '198.18.0.13', '02:00:00:00:00:13'),
      peer('10.244.4.0/24', '198.18.0.14', '02:00:00:00:00:13'),
      { ...peer('10.244.5.0/24', '198.18.0.15', '02:00:00:00:00:15'), attrs: { publicIP: IpAddress.parse('198.18.0.15'), backendType: 'host-gw' } },
    ]);
    assert.equal(routesOf(plan).length, 1);
    assert.equal(plan.warnings.length, 3, plan.warnings.join('\n'));
  });
  it('dual stack: flannel-v6 device with MTU − 70, v6 entries from BackendV6Data', () => {
    const backend = createVxlanBackend({ config: vxlanConfig({}, dual), externalInterface: ext });
    assert.deepEqual(vxlanDevices(backend).map((d) => `${d.name} ${d.local} ${d.mtu}`), ['flannel.1 198.18.0.11 1450', 'flannel-v6.1 fd00:198::11 1430']);
    assert.equal(backend.mtu, 1430);
    assert.match(encodeLeaseAttrs(backend.leaseAttrs), /"PublicIPv6":"fd00:198::11".*"BackendV6Data":\{"VNI":1,"VtepMAC":"[0-9a-f:]{17}"\}/);
    const plan = backend.plan(own, [peer('10.244.2.0/24', '198.18.0.12', '02:00:00:00:00:12', {}, { subnet: 'fd00:10:244:2::/64', ip: 'fd00:198::12', mac: '02:00:00:00:06:12' })]);
    assert.deepEqual(routesOf(plan).map((r) => `${r.dst} via ${r.gateway} dev ${r.linkName}`),
      ['10.244.2.0/24 via 10.244.2.0 dev flannel.1', 'fd00:10:244:2::/64 via fd00:10:244:2:: dev flannel-v6.1']);
    assert.deepEqual(plan.addresses.map((a) => a.address.toString()), ['10.244.1.0/32', 'fd00:10:244:1::/128']);
  });
});

describe('vxlan reconcile on MemoryKernel', () => {
  it('golden state, device deletion restores every entry, removed peer leaves nothing behind', async () => {
    const kernel = hostKernel();
    const backend = createVxlanBackend({ config: vxlanConfig(), externalInterface: ext });
    let peers = [peer('10.244.2.0/24', '198.18.0.12', '02:00:00:00:00:12'), peer('10.244.3.0/24', '198.18.0.13', '02:00:00:00:00:13')];
    const mac = vxlanDevices(backend)[0]?.mac.toString();
    await withReconciler(kernel, () => backend.plan(own, peers), async (reconciler, rig) => {
        await reconciler.whenConverged();
        const golden = [
          'addr 10.244.1.0/32 dev flannel.1',
          'addr 198.18.0.11/24 dev eth0',
          'fdb 02:00:00:00:00:12 dst 198.18.0.12 dev flannel.1',
          'fdb 02:00:00:00:00:13 dst 198.18.0.13 dev flannel.1',
          `link eth0 mtu 1500`,
          `link flannel.1 vxlan id 1 local 198.18.0.11 dev eth0 dstport 8472 nolearning mtu 1450 mac ${mac} up`,
          'neigh 10.244.2.0 lladdr 02:00:00:00:00:12 dev flannel.1',
          'neigh 10.244.3.0 lladdr 02:00:00:00:00:13 dev flannel.1',
          'route 10.244.2.0/24 via 10.244.2.0 dev flannel.1 onlink',
          'route 10.244.3.0/24 via 10.244.3.0 dev flannel.1 onlink',
        ].join('\n');
        assert.equal(kernelText(kernel), golden);
        const writes = kernel.writes;
        reconciler.markDirty();
        await reconciler.whenConverged();
        assert.equal(kernel.writes, writes, 'a quiet pass writes nothing');
        kernel.deleteLinkByHand('flannel.1');
        await settle(reconciler, rig);
        assert.equal(kernelText(kernel), golden, 'device and every peer entry back (upstream loses them)');
        peers = [peers[1] as Lease];
        reconciler.markDirty();
        await reconciler.whenConverged();
        assert.doesNotMatch(kernelText(kernel), /10\.244\.2\.0|00:12/);
    });
  });
  it('an incompatible existing device is recreated; a wrong MTU or MAC is fixed in place', async () => {
    const kernel = hostKernel();
    kernel.addLink({ index: 9, name: 'flannel.1', mtu: 1400, up: false, kind: 'vxlan', mac: MacAddress.parse('0a:00:00:00:00:09'),
      vxlan: { vni: 1, port: 8472, local: IpAddress.parse('198.18.0.11'), underlayIndex: 2, learning: false, gbp: false } });
    const backend = createVxlanBackend({ config: vxlanConfig(), externalInterface: ext, links: await kernel.listLinks() });
    await withReconciler(kernel, () => backend.plan(own, []), async (reconciler, rig) => {
        await reconciler.whenConverged();
        const device = kernel.links.get(9);
        assert.deepEqual([device?.mtu, device?.up, device?.mac?.toString()], [1450, true, '0a:00:00:00:00:09'], 'kept, MTU fixed, brought up');
        // Someone changes a setting no netlink request can change in place (as if recreated with another port).
        kernel.links.set(9, { ...(device as NonNullable<typeof device>), vxlan: { ...(device?.vxlan as NonNullable<NonNullable<typeof device>['vxlan']>), port: 4789 } });
        reconciler.requestResync();
        await settle(reconciler, rig);
        assert.equal(kernel.links.has(9), false, 'incompatible device replaced');
        assert.equal([...kernel.links.values()].find((l) => l.name === 'flannel.1')?.vxlan?.port, 8472);
    });
  });
});

describe('incremental reconcile', () => {
  it('a lease change diffs only that peer against the view; a resync re-reads everything (and finds silent losses)', async () => {
    const kernel = hostKernel();
    const backend = createVxlanBackend({ config: vxlanConfig(), externalInterface: ext });
    const hex = (value: number) => value.toString(16).padStart(2, '0');
    const many = Array.from({ length: 300 }, (_, index) =>
      peer(`10.${245 + (index >> 8)}.${index & 255}.0/24`, `198.18.0.${20 + (index % 200)}`, `02:00:00:00:${hex(index >> 8)}:${hex(index & 255)}`));
    let peers = many;
    await withReconciler(kernel, () => backend.plan(own, peers), async (reconciler) => {
        assert.equal((await reconciler.whenConverged()).fullRead, true);
        assert.equal(kernel.routes.size, 300);
        peers = [...many.slice(1), peer('10.99.0.0/24', '198.18.0.99', '02:00:00:00:99:99')];
        reconciler.markDirty();
        const incremental = await reconciler.whenConverged();
        assert.deepEqual([incremental.fullRead, incremental.routes, incremental.neighbours], [false, 2, 4], 'one peer gone, one new: 2 routes, 4 neighbour/FDB ops');
        assert.equal(kernel.routes.size, 300);
        kernel.routes.clear(); // unannounced: only a re-read sees it
        reconciler.requestResync();
        const full = await reconciler.whenConverged();
        assert.deepEqual([full.fullRead, full.routes, kernel.routes.size], [true, 300, 300]);
    });
  });
});

describe('notifications carry the object', () => {
  it('a route deleted by someone is repaired without a re-read; a deleted device comes back with every entry', async () => {
    const kernel = hostKernel();
    const backend = createVxlanBackend({ config: vxlanConfig(), externalInterface: ext });
    const peers = [peer('10.244.2.0/24', '198.18.0.12', '02:00:00:00:00:12'), peer('10.244.3.0/24', '198.18.0.13', '02:00:00:00:00:13')];
    await withReconciler(kernel, () => backend.plan(own, peers), async (reconciler, rig) => {
        await reconciler.whenConverged();
        const golden = kernelText(kernel);
        kernel.deleteRouteByHand([...kernel.routes.values()][0]!);
        const routesOnly = await settle(reconciler, rig);
        assert.deepEqual([routesOnly.fullRead, routesOnly.routes, routesOnly.neighbours], [false, 1, 0]);
        assert.equal(kernelText(kernel), golden);
        const fdb = [...kernel.neighbours.values()].find((entry) => entry.kind === 'fdb')!;
        kernel.deleteNeighbourByHand(fdb);
        const fdbOnly = await settle(reconciler, rig);
        assert.deepEqual([fdbOnly.fullRead, fdbOnly.routes, fdbOnly.neighbours], [false, 0, 1]);
        assert.equal(kernelText(kernel), golden);
        kernel.deleteLinkByHand('flannel.1');
        await settle(reconciler, rig);
        assert.equal(kernelText(kernel), golden, 'device and every entry back, though the kernel announced only the device');
    });
  });
});
