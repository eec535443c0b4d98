/**
 * The ownership rule (ownership.ts) in tables, and on MemoryKernel: devices nobody wants any more are removed
 * after a VNI or backend change, two flanneld instances for two networks on one host leave each other alone,
 * and `flannelctl uninstall` removes everything of every kind and nothing else.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ExternalInterface } from '../../src/backend/backend.js';
import { createHostGwBackend } from '../../src/backend/host-gw/host-gw-backend.js';
import { createVxlanBackend } from '../../src/backend/vxlan/vxlan-backend.js';
import { uninstall } from '../../src/daemon/uninstall.js';
import type { DesiredState } from '../../src/dataplane/desired-state.js';
import { FLANNEL_ROUTE_PROTOCOL, MAIN_TABLE, NUD_PERMANENT, type Link, type Route } from '../../src/dataplane/kernel-objects.js';
import { MEMORY_KERNEL_PORT } from '../../src/dataplane/memory-kernel.js';
import { EVERYTHING, type Ownership, RTPROT_BOOT, ownershipOf, ownsRoute, ownsUnwantedDevice } from '../../src/dataplane/ownership.js';
import { Reconciler } from '../../src/dataplane/reconciler.js';
import type { Lease } from '../../src/lease/lease.js';
import { Cidr, IpAddress } from '../../src/net/ip.js';
import { MacAddress } from '../../src/net/mac.js';
import { silentLogger } from '../../src/support/logger.js';
import type { Firewall } from '../../src/traffic/firewall.js';
import { config, lease } from '../support/fixtures.js';
import { kernelText } from '../support/golden.js';
import { NotificationBridge, hostKernel, settle, withReconciler } from '../support/reconcile.js';

const route = (dst: string, protocol = FLANNEL_ROUTE_PROTOCOL, extra: Partial<Route> = {}): Route => ({
  dst: Cidr.parse(dst), gateway: IpAddress.parse('198.18.0.12'), linkIndex: 2, table: MAIN_TABLE, protocol, type: 'unicast', onlink: false, ...extra,
});
const ours = ownershipOf([Cidr.parse('10.244.0.0/16'), Cidr.parse('fd00:10:244::/56')]);

describe('ownership rule', () => {
  const routes: Array<[string, Ownership, Route, boolean, boolean?]> = [
    ['proto 111 inside our Network', ours, route('10.244.2.0/24'), true],
    ['proto 111, our whole Network (udp, wireguard)', ours, route('10.244.0.0/16'), true],
    ['proto 111 inside our IPv6Network', ours, route('fd00:10:244:2::/64'), true],
    ['proto 111 in another instance’s Network', ours, route('10.245.2.0/24'), false],
    ['proto 111 wider than our Network', ours, route('10.0.0.0/8'), false],
    ['another protocol inside our Network', ours, route('10.244.2.0/24', 4), false],
    ['uninstall: proto 111 anywhere', EVERYTHING, route('192.0.2.0/24'), true],
    ['uninstall: another protocol', EVERYTHING, route('10.244.2.0/24', 2), false],
    ['upstream flanneld’s (proto boot) on our device, inside our Network', ours, route('10.244.2.0/24', RTPROT_BOOT), true, true],
    ['proto boot on someone else’s device', ours, route('10.244.2.0/24', RTPROT_BOOT), false, false],
    ['proto boot on our device, outside our Network', ours, route('10.245.2.0/24', RTPROT_BOOT), false, true],
    ['proto boot on our device, another table', ours, route('10.244.2.0/24', RTPROT_BOOT, { table: 100 }), false, true],
    ['the kernel’s own route on our device', ours, route('10.244.2.0/24', 2), false, true],
  ];
  for (const [name, ownership, candidate, expected, onOurDevice] of routes) it(`route: ${name}`, () => assert.equal(ownsRoute(ownership, candidate, onOurDevice), expected));

  const link = (name: string, kind: string): Link => ({ index: 9, name, kind, mtu: 1450, up: true });
  const devices: Array<[string, Ownership, Link, string[], boolean]> = [
    ['our vxlan device with our subnet’s address', ours, link('flannel.1', 'vxlan'), ['10.244.1.0/32'], true],
    ['another instance’s vxlan device', ours, link('flannel.2', 'vxlan'), ['10.245.1.0/32'], false],
    ['a flannel device without an address', ours, link('flannel.1', 'vxlan'), [], false],
    ['our TUN', ours, link('flannel0', 'tun'), ['10.244.1.0/32'], true],
    ['a bridge carrying our subnet (cni0)', ours, link('cni0', 'bridge'), ['10.244.1.1/24'], false],
    ['a flannel name of the wrong kind', ours, link('flannel.1', 'bridge'), ['10.244.1.0/32'], false],
    ['uninstall: any flannel device', EVERYTHING, link('flannel.ipip', 'ipip'), [], true],
    ['uninstall: never a foreign device', EVERYTHING, link('cni0', 'bridge'), [], false],
  ];
  for (const [name, ownership, candidate, addresses, expected] of devices) {
    it(`device: ${name}`, () => assert.equal(ownsUnwantedDevice(ownership, candidate, addresses.map((a) => Cidr.parse(a))), expected));
  }
});

const ext: ExternalInterface = { linkIndex: 2, name: 'eth0', mtu: 1500, ifaceAddr: Cidr.parse('198.18.0.11/24'), extAddr: IpAddress.parse('198.18.0.11'), prefixes: [Cidr.parse('198.18.0.0/24')] };
const vxlanPeer = (subnet: string, ip: string, mac: string): Lease => ({ subnet: Cidr.parse(subnet), attrs: { publicIP: IpAddress.parse(ip), backendType: 'vxlan', backendData: { VNI: 1, VtepMAC: mac } } });

describe('devices nobody wants any more are removed', () => {
  const own = lease('10.244.1.0/24', '198.18.0.11', 'vxlan');
  const peers = [vxlanPeer('10.244.2.0/24', '198.18.0.12', '02:00:00:00:00:12')];
  it('a VNI change: flannel.1 and its entries go, flannel.2 comes', async () => {
    const kernel = hostKernel();
    let vni = 1;
    const plan = () => createVxlanBackend({ config: config({ Backend: { Type: 'vxlan', VNI: vni } }), externalInterface: ext }).plan(own, peers.map((p) => ({ ...p, attrs: { ...p.attrs, backendData: { VNI: vni, VtepMAC: '02:00:00:00:00:12' } } })));
    await withReconciler(kernel, plan, async (reconciler) => {
      await reconciler.whenConverged();
      vni = 2;
      reconciler.markDirty();
      const result = await reconciler.whenConverged();
      assert.deepEqual(result.removedDevices, ['flannel.1']);
      assert.doesNotMatch(kernelText(kernel), /flannel\.1/);
      assert.match(kernelText(kernel), /link flannel\.2 vxlan id 2 .*\n.*neigh 10\.244\.2\.0 lladdr 02:00:00:00:00:12 dev flannel\.2/s);
    }, 60_000, { ownership: ours });
  });
  it('a backend change: the same routes through eth0 replace the vxlan ones before flannel.1 goes', async () => {
    const kernel = hostKernel();
    let plan: () => DesiredState = () => createVxlanBackend({ config: config({ Backend: { Type: 'vxlan' } }), externalInterface: ext }).plan(own, peers);
    await withReconciler(kernel, () => plan(), async (reconciler) => {
      await reconciler.whenConverged();
      const hostGw = createHostGwBackend({ config: config(), externalInterface: ext });
      plan = () => hostGw.plan(own, [lease('10.244.2.0/24', '198.18.0.12')]);
      reconciler.markDirty();
      const result = await reconciler.whenConverged();
      assert.deepEqual([result.removedDevices, result.removedRoutes], [['flannel.1'], 0], 'the route was replaced, not removed');
      assert.equal(kernelText(kernel), ['addr 198.18.0.11/24 dev eth0', 'link eth0 mtu 1500', 'route 10.244.2.0/24 via 198.18.0.12 dev eth0'].join('\n'));
    }, 60_000, { ownership: ours });
  });
});

describe('two flanneld instances, two networks, one host', () => {
  it('each keeps to its own network: routes, devices, stale entries', async () => {
    const kernel = hostKernel();
    // Left behind: a stale route of the host-gw instance, and one of a third instance nobody runs now.
    kernel.replaceRouteByHand(route('10.12.99.0/24'));
    kernel.replaceRouteByHand(route('10.13.5.0/24'));
    let vni = 1;
    const vxlanOwn = lease('10.11.1.0/24', '198.18.0.11', 'vxlan');
    const vxlanPlan = () => createVxlanBackend({ config: config({ Network: '10.11.0.0/16', Backend: { Type: 'vxlan', VNI: vni } }), externalInterface: ext })
      .plan(vxlanOwn, [{ ...vxlanPeer('10.11.2.0/24', '198.18.0.12', '02:00:00:00:00:12'), attrs: { publicIP: IpAddress.parse('198.18.0.12'), backendType: 'vxlan', backendData: { VNI: vni, VtepMAC: '02:00:00:00:00:12' } } }]);
    const hostGw = createHostGwBackend({ config: config({ Network: '10.12.0.0/16' }), externalInterface: ext });
    let hostGwPeers = [lease('10.12.2.0/24', '198.18.0.12'), lease('10.12.3.0/24', '198.18.0.13')];
    const hostGwOwn = lease('10.12.1.0/24', '198.18.0.11');
    // The host-gw instance: its own socket (port 2), its own notifications.
    const second = new Reconciler({
      kernel: kernel.handle(2), plan: () => hostGw.plan(hostGwOwn, hostGwPeers), logger: silentLogger(), ownership: ownershipOf([Cidr.parse('10.12.0.0/16')]), resyncIntervalMs: 60_000,
    });
    const secondBridge = new NotificationBridge(kernel, (events) => second.observe(events), 2);
    const controller = new AbortController();
    const secondRunning = second.run(controller.signal);
    try {
      await withReconciler(kernel, vxlanPlan, async (first, rig) => {
        await Promise.all([first.whenConverged(), second.whenConverged()]);
        const both = kernelText(kernel);
        assert.match(both, /route 10\.11\.2\.0\/24 via 10\.11\.2\.0 dev flannel\.1 onlink/);
        assert.match(both, /route 10\.12\.2\.0\/24 via 198\.18\.0\.12 dev eth0\nroute 10\.12\.3\.0\/24/);
        assert.doesNotMatch(both, /10\.12\.99\.0/, 'the host-gw instance removed its stale route');
        assert.match(both, /route 10\.13\.5\.0\/24/, 'nobody removed the third network’s');
        hostGwPeers = [lease('10.12.3.0/24', '198.18.0.13')];
        second.markDirty();
        vni = 2;
        first.markDirty();
        rig.notifications.flush();
        secondBridge.flush();
        await Promise.all([first.whenConverged(), second.whenConverged()]);
        const after = kernelText(kernel);
        assert.doesNotMatch(after, /10\.12\.2\.0|flannel\.1 /);
        assert.match(after, /route 10\.11\.2\.0\/24 via 10\.11\.2\.0 dev flannel\.2 onlink/);
        assert.match(after, /route 10\.12\.3\.0\/24 via 198\.18\.0\.13 dev eth0/);
        assert.match(after, /route 10\.13\.5\.0\/24/);
        // Drift on one instance's state is repaired by that instance alone; the other's view passes it by.
        const firstPass = first.lastResult;
        kernel.deleteRouteByHand(route('10.12.3.0/24', FLANNEL_ROUTE_PROTOCOL, { gateway: IpAddress.parse('198.18.0.13') }));
        rig.notifications.flush();
        const repaired = await settle(second, { notifications: secondBridge });
        assert.deepEqual([repaired.fullRead, repaired.routes], [false, 1]);
        assert.equal(kernelText(kernel), after);
        assert.equal(first.lastResult, firstPass, 'no pass on the vxlan instance: not its route');
      }, 60_000, { ownership: ownershipOf([Cidr.parse('10.11.0.0/16')]) });
    } finally {
      controller.abort();
      await secondRunning;
      secondBridge.close();
    }
  });
});

describe('flannelctl uninstall: reconcile to nothing', () => {
  it('removes every flannel device of every kind and every protocol-111 route, and nothing else', async () => {
    const kernel = hostKernel();
    kernel.addLink({ index: 20, name: 'flannel.1', mtu: 1450, up: true, kind: 'vxlan', vxlan: { vni: 1, gbp: false } }, [{ address: Cidr.parse('10.244.1.0/32'), scope: 0, flags: 0 }]);
    kernel.addLink({ index: 21, name: 'flannel0', mtu: 1472, up: true, kind: 'tun', tun: { type: 'tun' } });
    kernel.addLink({ index: 22, name: 'flannel-wg', mtu: 1420, up: true, kind: 'wireguard' });
    kernel.addLink({ index: 23, name: 'flannel.ipip', mtu: 1480, up: true, kind: 'ipip', ipip: {} });
    kernel.addLink({ index: 24, name: 'cni0', mtu: 1500, up: true, kind: 'bridge' }, [{ address: Cidr.parse('10.244.1.1/24'), scope: 0, flags: 0 }]);
    await kernel.applyNeighbourOps([{ kind: 'replace', entry: { kind: 'fdb', linkIndex: 20, ip: IpAddress.parse('198.18.0.12'), mac: MacAddress.parse('02:00:00:00:00:12'), state: NUD_PERMANENT } }]);
    kernel.replaceRouteByHand(route('10.244.2.0/24', FLANNEL_ROUTE_PROTOCOL, { linkIndex: 20, gateway: IpAddress.parse('10.244.2.0'), onlink: true }));
    kernel.replaceRouteByHand(route('10.99.0.0/16', FLANNEL_ROUTE_PROTOCOL, { linkIndex: 21, gateway: undefined }));
    kernel.replaceRouteByHand(route('10.50.2.0/24'));
    kernel.replaceRouteByHand({ dst: Cidr.parse('10.244.1.0/24'), table: MAIN_TABLE, protocol: FLANNEL_ROUTE_PROTOCOL, type: 'blackhole', onlink: false, priority: 65535 });
    kernel.replaceRouteByHand(route('192.0.2.0/24', 4));
    const removed: string[] = [];
    const firewall = (mode: 'iptables' | 'nftables'): Firewall => ({
      mode, read: async () => '', write: async () => undefined, supportsRandomFully: async () => true,
      remove: async (family) => void removed.push(`${mode} ${family}`),
    });
    const report = await uninstall(kernel.handle(MEMORY_KERNEL_PORT), [firewall('iptables'), firewall('nftables')]);
    assert.deepEqual([report.routes, [...report.devices].sort(), report.problems], [4, ['flannel-wg', 'flannel.1', 'flannel.ipip', 'flannel0'], []]);
    assert.deepEqual(report.firewalls, ['iptables IPv4', 'iptables IPv6', 'nftables IPv4', 'nftables IPv6']);
    assert.equal(kernelText(kernel), [
      'addr 10.244.1.1/24 dev cni0', 'addr 198.18.0.11/24 dev eth0', 'link cni0 bridge mtu 1500 up', 'link eth0 mtu 1500', 'route 192.0.2.0/24 via 198.18.0.12 dev eth0',
    ].join('\n'));
  });
});

describe('taking over a host from upstream flanneld', () => {
  it('its routes on flannel.1 (proto boot) are replaced in place when wanted and removed when stale; others stay', async () => {
    const kernel = hostKernel();
    // As upstream v0.20.2 leaves a host: flannel.1 with a random MAC and our subnet's /32, per-peer routes added
    // without a protocol (proto boot), one of them to a peer that left while no flanneld ran.
    kernel.addLink({
      index: 3, name: 'flannel.1', mtu: 1450, up: true, kind: 'vxlan', mac: MacAddress.parse('0a:11:22:33:44:55'),
      vxlan: { vni: 1, port: 8472, local: IpAddress.parse('198.18.0.11'), underlayIndex: 2, learning: false, gbp: false },
    }, [{ address: Cidr.parse('10.244.1.0/32'), scope: 0, flags: 0x80 }]);
    const upstream = (dst: string) => route(dst, RTPROT_BOOT, { gateway: IpAddress.parse(dst.split('/')[0] as string), linkIndex: 3, onlink: true });
    for (const dst of ['10.244.2.0/24', '10.244.9.0/24', '192.0.2.0/24']) kernel.replaceRouteByHand(upstream(dst));
    kernel.replaceRouteByHand(route('10.99.0.0/24', RTPROT_BOOT));
    const backend = createVxlanBackend({ config: config(), externalInterface: ext, links: await kernel.listLinks() });
    await withReconciler(kernel, () => backend.plan(lease('10.244.1.0/24', '198.18.0.11', 'vxlan'), [vxlanPeer('10.244.2.0/24', '198.18.0.12', '02:00:00:00:00:12')]), async (reconciler) => {
      const result = await reconciler.whenConverged();
      assert.equal(result.removedRoutes, 1, 'the stale route to the peer that left');
      assert.deepEqual(result.removedDevices, []);
      const routes = [...kernel.routes.values()].map((entry) => `${entry.dst} proto ${entry.protocol}`).sort();
      assert.deepEqual(routes, ['10.244.2.0/24 proto 111', '10.99.0.0/24 proto 3', '192.0.2.0/24 proto 3'],
        'the wanted route is ours now; a route outside our Network and one on the uplink are left alone');
      assert.match(kernelText(kernel), /link flannel\.1 vxlan id 1 .* mac 0a:11:22:33:44:55 up/, 'the device and its MAC are kept');
    }, 60_000, { ownership: ours });
  });
});
