/**
 * One suite, two Kernels: MemoryKernel and the netlink adapter on this namespace's real kernel state. Keeps the
 * fake honest about what the kernel accepts, refuses and reports.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { NetlinkKernel } from '../../src/adapters/netlink/netlink-kernel.js';
import { startKernelWatcher } from '../../src/adapters/netlink/kernel-watcher.js';
import { FLANNEL_ROUTE_PROTOCOL, MAIN_TABLE, NUD_PERMANENT, type Route } from '../../src/dataplane/kernel-objects.js';
import { MacAddress } from '../../src/net/mac.js';
import type { Kernel } from '../../src/dataplane/kernel.js';
import { MemoryKernel } from '../../src/dataplane/memory-kernel.js';
import { run } from '../../src/lab/shell.js';
import { Cidr, IpAddress } from '../../src/net/ip.js';
import { sleep } from '../../src/support/timing.js';
import { assertInContractNetns } from '../support/contract-netns.js';

interface Fixture {
  readonly kernel: Kernel;
  readonly linkIndex: number;
  vxlanIndex?: number;
}

function route(dst: string, gateway: string, linkIndex: number, onlink = false): Route {
  return { dst: Cidr.parse(dst), gateway: IpAddress.parse(gateway), linkIndex, table: MAIN_TABLE, protocol: FLANNEL_ROUTE_PROTOCOL, type: 'unicast', onlink };
}

function kernelContract(name: string, setUp: () => Promise<Fixture>, tearDown: () => Promise<void>): void {
  describe(`Kernel contract: ${name}`, () => {
    let fixture: Fixture;
    before(async () => {
      fixture = await setUp();
    });
    after(tearDown);
    const ours = async () => (await fixture.kernel.listRoutes()).filter((r) => r.protocol === FLANNEL_ROUTE_PROTOCOL).map((r) => `${r.dst} via ${r.gateway} onlink=${r.onlink}`).sort();

    it('lists the test link with its address', async () => {
      const link = (await fixture.kernel.listLinks()).find((l) => l.index === fixture.linkIndex);
      assert.equal(link?.name, 'ct0');
      assert.equal(link?.mtu, 1500);
      const addresses = (await fixture.kernel.listAddresses()).filter((a) => a.linkIndex === fixture.linkIndex && a.address.family === 4);
      assert.deepEqual(addresses.map((a) => a.address.toString()), ['198.18.9.1/24']);
    });
    it('replaces, lists and deletes routes in one batch', async () => {
      const failures = await fixture.kernel.applyRouteOps([
        { kind: 'replace', route: route('10.244.2.0/24', '198.18.9.2', fixture.linkIndex) },
        { kind: 'replace', route: route('10.244.3.0/24', '10.244.3.0', fixture.linkIndex, true) },
      ]);
      assert.deepEqual(failures, []);
      assert.deepEqual(await ours(), ['10.244.2.0/24 via 198.18.9.2 onlink=false', '10.244.3.0/24 via 10.244.3.0 onlink=true']);
      await fixture.kernel.applyRouteOps([{ kind: 'replace', route: route('10.244.2.0/24', '198.18.9.3', fixture.linkIndex) }]);
      assert.deepEqual((await ours())[0], '10.244.2.0/24 via 198.18.9.3 onlink=false', 'replace overwrites the same key');
      const removal = await fixture.kernel.applyRouteOps([
        { kind: 'delete', route: route('10.244.2.0/24', '198.18.9.3', fixture.linkIndex) },
        { kind: 'delete', route: route('10.244.3.0/24', '10.244.3.0', fixture.linkIndex, true) },
      ]);
      assert.deepEqual(removal, []);
      assert.deepEqual(await ours(), []);
    });
    it('reports per-operation failures without stopping the batch', async () => {
      const failures = await fixture.kernel.applyRouteOps([
        { kind: 'replace', route: route('10.244.4.0/24', '192.0.2.1', fixture.linkIndex) },
        { kind: 'replace', route: route('10.244.5.0/24', '198.18.9.5', fixture.linkIndex) },
        { kind: 'replace', route: route('10.244.6.0/24', '198.18.9.6', 99999) },
        { kind: 'replace', route: route('10.244.8.0/24', '10.244.8.0', 99999, true) },
        { kind: 'delete', route: route('10.244.7.0/24', '198.18.9.7', fixture.linkIndex) },
      ]);
      assert.deepEqual(failures.map((f) => f.error.name === 'FlannelError' && (f.error as { code?: string }).code), ['ENETUNREACH', 'ENETUNREACH', 'ENODEV', 'ESRCH']);
      assert.deepEqual(await ours(), ['10.244.5.0/24 via 198.18.9.5 onlink=false']);
      await fixture.kernel.applyRouteOps([{ kind: 'delete', route: route('10.244.5.0/24', '198.18.9.5', fixture.linkIndex) }]);
    });
    it('creates, updates and deletes a VXLAN device', async () => {
      const mac = MacAddress.parse('02:11:22:33:44:55');
      const device = { name: 'ctvx', vni: 42, port: 8472, local: IpAddress.parse('198.18.9.1'), underlayIndex: fixture.linkIndex, learning: false, gbp: false, mtu: 1450, mac };
      assert.deepEqual(await fixture.kernel.applyLinkOps([{ kind: 'create', device }]), []);
      let link = (await fixture.kernel.listLinks()).find((l) => l.name === 'ctvx');
      assert.deepEqual([link?.kind, link?.mtu, link?.up, link?.mac?.toString()], ['vxlan', 1450, true, mac.toString()]);
      assert.deepEqual(link?.vxlan, { gbp: false, vni: 42, port: 8472, local: IpAddress.parse('198.18.9.1'), underlayIndex: fixture.linkIndex, learning: false });
      const again = await fixture.kernel.applyLinkOps([{ kind: 'create', device }]);
      assert.equal((again[0]?.error as { code?: string } | undefined)?.code, 'EEXIST');
      const index = link?.index as number;
      assert.deepEqual(await fixture.kernel.applyLinkOps([{ kind: 'update', index, name: 'ctvx', mtu: 1400, mac: MacAddress.parse('02:11:22:33:44:66'), up: true }]), []);
      link = (await fixture.kernel.listLinks()).find((l) => l.name === 'ctvx');
      assert.deepEqual([link?.mtu, link?.mac?.toString()], [1400, '02:11:22:33:44:66']);
      fixture.vxlanIndex = index;
    });
    it('adds and deletes addresses on a device', async () => {
      const linkIndex = fixture.vxlanIndex as number;
      assert.deepEqual(await fixture.kernel.applyAddressOps([{ kind: 'add', linkIndex, address: Cidr.parse('10.244.1.0/32') }]), []);
      const on = async () => (await fixture.kernel.listAddresses()).filter((a) => a.linkIndex === linkIndex && a.address.family === 4).map((a) => a.address.toString());
      assert.deepEqual(await on(), ['10.244.1.0/32']);
      assert.deepEqual(await fixture.kernel.applyAddressOps([{ kind: 'delete', linkIndex, address: Cidr.parse('10.244.1.0/32') }]), []);
      assert.deepEqual(await on(), []);
    });
    it('replaces and deletes permanent neighbour and FDB entries', async () => {
      const linkIndex = fixture.vxlanIndex as number;
      const mac = MacAddress.parse('02:00:00:00:00:12');
      const neigh = { kind: 'neigh' as const, linkIndex, ip: IpAddress.parse('10.244.2.0'), mac, state: NUD_PERMANENT };
      const fdb = { kind: 'fdb' as const, linkIndex, ip: IpAddress.parse('198.18.9.2'), mac, state: NUD_PERMANENT };
      assert.deepEqual(await fixture.kernel.applyNeighbourOps([{ kind: 'replace', entry: neigh }, { kind: 'replace', entry: fdb }]), []);
      const ours = async () => (await fixture.kernel.listNeighbours()).filter((n) => n.linkIndex === linkIndex && n.state & NUD_PERMANENT)
        .map((n) => `${n.kind} ${n.ip} ${n.mac}`).sort();
      assert.deepEqual(await ours(), ['fdb 198.18.9.2 02:00:00:00:00:12', 'neigh 10.244.2.0 02:00:00:00:00:12']);
      const moved = { ...fdb, ip: IpAddress.parse('198.18.9.3') };
      assert.deepEqual(await fixture.kernel.applyNeighbourOps([{ kind: 'replace', entry: moved }]), []);
      assert.deepEqual(await ours(), ['fdb 198.18.9.3 02:00:00:00:00:12', 'neigh 10.244.2.0 02:00:00:00:00:12'], 'replace keeps one FDB entry per MAC');
      assert.deepEqual(await fixture.kernel.applyRouteOps([{ kind: 'replace', route: { ...route('10.244.2.0/24', '10.244.2.0', linkIndex, true) } }]), []);
      assert.deepEqual(await fixture.kernel.applyNeighbourOps([{ kind: 'delete', entry: neigh }, { kind: 'delete', entry: moved }]), []);
      assert.deepEqual(await ours(), []);
      const missing = await fixture.kernel.applyNeighbourOps([{ kind: 'delete', entry: neigh }]);
      assert.equal((missing[0]?.error as { code?: string } | undefined)?.code, 'ENOENT');
    });
    it('deleting a device takes its routes and entries with it', async () => {
      const index = fixture.vxlanIndex as number;
      assert.deepEqual(await fixture.kernel.applyLinkOps([{ kind: 'delete', index, name: 'ctvx' }]), []);
      assert.equal((await fixture.kernel.listLinks()).some((l) => l.name === 'ctvx'), false);
      assert.equal((await fixture.kernel.listRoutes()).some((r) => r.linkIndex === index), false);
      const gone = await fixture.kernel.applyLinkOps([{ kind: 'update', index, name: 'ctvx', up: true }]);
      assert.equal((gone[0]?.error as { code?: string } | undefined)?.code, 'ENODEV');
    });
    it('answers route lookups', async () => {
      const lookup = await fixture.kernel.routeGet(IpAddress.parse('198.18.9.77'));
      assert.equal(lookup?.linkIndex, fixture.linkIndex);
      assert.equal(lookup?.gateway, undefined);
    });
  });
}

const netns = assertInContractNetns();

kernelContract('MemoryKernel', async () => {
  const kernel = new MemoryKernel().addLink({ index: 5, name: 'ct0', mtu: 1500, up: true }, [{ address: Cidr.parse('198.18.9.1/24'), scope: 0, flags: 0x80 }]);
  return { kernel, linkIndex: 5 };
}, async () => undefined);

let netlink: NetlinkKernel | undefined;
kernelContract(`netlink adapter in ${netns}`, async () => {
  run('ip', ['link', 'add', 'ct0', 'type', 'veth', 'peer', 'name', 'ct1']);
  run('ip', ['addr', 'add', '198.18.9.1/24', 'dev', 'ct0']);
  run('ip', ['link', 'set', 'ct0', 'up']);
  run('ip', ['link', 'set', 'ct1', 'up']);
  netlink = NetlinkKernel.open();
  const link = (await netlink.listLinks()).find((l) => l.name === 'ct0');
  return { kernel: netlink, linkIndex: link?.index ?? -1 };
}, async () => {
  netlink?.close();
  run('ip', ['link', 'del', 'ct0'], { allowFailure: true });
});

describe('kernel watcher (real kernel)', () => {
  it('reports our route deleted by someone else, and link changes', async () => {
    run('ip', ['link', 'add', 'cw0', 'type', 'veth', 'peer', 'name', 'cw1']);
    run('ip', ['addr', 'add', '198.18.10.1/24', 'dev', 'cw0']);
    run('ip', ['link', 'set', 'cw0', 'up']);
    const reports: Array<{ routeDeleted: boolean; link: boolean; neighbourLinks: readonly number[] }> = [];
    const watcher = await startKernelWatcher({ onReport: (report) => reports.push(report), onError: (error) => assert.fail(error) });
    try {
      run('ip', ['route', 'add', '10.250.0.0/24', 'via', '198.18.10.2', 'proto', String(FLANNEL_ROUTE_PROTOCOL)]);
      run('ip', ['route', 'del', '10.250.0.0/24']);
      const deadline = Date.now() + 2000;
      while (!reports.some((r) => r.routeDeleted) && Date.now() < deadline) await sleep(10);
      assert.ok(reports.some((r) => r.routeDeleted), 'route deletion reported');
      await sleep(300);
      const deletions = reports.filter((r) => r.routeDeleted).length;
      run('ip', ['route', 'add', '10.251.0.0/24', 'via', '198.18.10.2']);
      run('ip', ['route', 'del', '10.251.0.0/24']);
      run('ip', ['link', 'set', 'cw1', 'up']);
      await sleep(300);
      assert.equal(reports.filter((r) => r.routeDeleted).length, deletions, 'foreign route deletions are not reported');
      assert.ok(reports.some((r) => r.link), 'link change reported');
      run('ip', ['neigh', 'add', '198.18.10.9', 'lladdr', '02:00:00:00:00:09', 'dev', 'cw0', 'nud', 'permanent']);
      run('ip', ['neigh', 'del', '198.18.10.9', 'dev', 'cw0']);
      const index = Number(run('cat', ['/sys/class/net/cw0/ifindex']).stdout.trim());
      const until = Date.now() + 2000;
      while (!reports.some((r) => r.neighbourLinks.includes(index)) && Date.now() < until) await sleep(10);
      assert.ok(reports.some((r) => r.neighbourLinks.includes(index)), 'neighbour deletion reported with its device');
    } finally {
      await watcher.stop();
      run('ip', ['link', 'del', 'cw0'], { allowFailure: true });
    }
  });
});
