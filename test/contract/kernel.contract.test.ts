/**
 * One suite, two Kernels: MemoryKernel and the netlink adapter on this namespace's real kernel state. Keeps the
 * fake honest about what the kernel accepts, refuses and reports, for every device kind this kernel has: vxlan
 * and TUN here; ipip and wireguard only where the kernel has their modules (the cases say so and skip when it
 * does not; MemoryKernel and the codec byte tests cover them everywhere).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it, type TestContext } from 'node:test';
import { NetlinkKernel } from '../../src/adapters/netlink/netlink-kernel.js';
import { startKernelWatcher } from '../../src/adapters/netlink/kernel-watcher.js';
import { FLANNEL_ROUTE_PROTOCOL, MAIN_TABLE, NUD_PERMANENT, type Route } from '../../src/dataplane/kernel-objects.js';
import { MacAddress } from '../../src/net/mac.js';
import type { KernelCreatedDevice } from '../../src/dataplane/devices.js';
import type { Kernel, KernelEvent } from '../../src/dataplane/kernel.js';
import { MemoryKernel } from '../../src/dataplane/memory-kernel.js';
import { run } from '../../src/lab/shell.js';
import { Cidr, IpAddress } from '../../src/net/ip.js';
import { sleep } from '../../src/support/timing.js';
import { assertInContractNetns } from '../support/contract-netns.js';

interface Fixture {
  readonly kernel: Kernel;
  readonly linkIndex: number;
  vxlanIndex?: number;
  /** Makes a TUN named `name` as a data path would (the reconciler never creates one); returns its index. */
  readonly makeTun: (name: string) => Promise<number>;
}

/** Creates a device the kernel may not support; skips the test, saying why, when the kernel lacks the module. */
async function createOrSkip(t: TestContext, kernel: Kernel, device: KernelCreatedDevice): Promise<boolean> {
  const [failure] = await kernel.applyLinkOps([{ kind: 'create', device }]);
  const code = (failure?.error as { code?: string } | undefined)?.code;
  if (code === 'ENOTSUP' || code === 'EOPNOTSUPP') {
    t.skip(`this kernel has no ${device.kind} support (RTM_NEWLINK kind ${device.kind}: "Unknown device type"); MemoryKernel and the codec byte tests cover it`);
    return false;
  }
  assert.equal(failure, undefined, `create ${device.kind}: ${failure?.error.message}`);
  return true;
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
      const device = { kind: 'vxlan' as const, name: 'ctvx', vni: 42, port: 8472, local: IpAddress.parse('198.18.9.1'), underlayIndex: fixture.linkIndex, learning: false, gbp: false, mtu: 1450, mac };
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
    it('adds (twice: a replace) and deletes addresses on a device', async () => {
      const linkIndex = fixture.vxlanIndex as number;
      assert.deepEqual(await fixture.kernel.applyAddressOps([{ kind: 'add', linkIndex, address: Cidr.parse('10.244.1.0/32') }]), []);
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
    it('a TUN made by a data path: listed as tun, MTU and up set in place, carries an address and a route, deleted like any link', async () => {
      const index = await fixture.makeTun('cttun0');
      let link = (await fixture.kernel.listLinks()).find((l) => l.name === 'cttun0');
      assert.deepEqual([link?.kind, link?.tun?.type, link?.index], ['tun', 'tun', index]);
      assert.deepEqual(await fixture.kernel.applyLinkOps([{ kind: 'update', index, name: 'cttun0', mtu: 1472, up: true }]), []);
      link = (await fixture.kernel.listLinks()).find((l) => l.name === 'cttun0');
      assert.deepEqual([link?.mtu, link?.up], [1472, true]);
      assert.deepEqual(await fixture.kernel.applyAddressOps([{ kind: 'add', linkIndex: index, address: Cidr.parse('10.244.1.0/32') }]), []);
      const network = { dst: Cidr.parse('10.244.0.0/16'), linkIndex: index, table: MAIN_TABLE, protocol: FLANNEL_ROUTE_PROTOCOL, type: 'unicast' as const, onlink: false };
      assert.deepEqual(await fixture.kernel.applyRouteOps([{ kind: 'replace', route: network }]), []);
      assert.ok((await fixture.kernel.listRoutes()).some((r) => r.dst.toString() === '10.244.0.0/16' && r.linkIndex === index));
      assert.deepEqual(await fixture.kernel.applyLinkOps([{ kind: 'delete', index, name: 'cttun0' }]), []);
      assert.equal((await fixture.kernel.listLinks()).some((l) => l.name === 'cttun0'), false);
      assert.equal((await fixture.kernel.listRoutes()).some((r) => r.linkIndex === index), false);
    });
    it('creates an ipip device (local, any remote, on the underlay)', async (t) => {
      const device = { kind: 'ipip' as const, name: 'ctipip', mtu: 1480, local: IpAddress.parse('198.18.9.1'), underlayIndex: fixture.linkIndex };
      if (!(await createOrSkip(t, fixture.kernel, device))) return;
      const link = (await fixture.kernel.listLinks()).find((l) => l.name === 'ctipip');
      assert.deepEqual([link?.kind, link?.mtu, link?.up, link?.ipip?.local?.toString(), link?.ipip?.underlayIndex], ['ipip', 1480, true, '198.18.9.1', fixture.linkIndex]);
      assert.ok(!link?.ipip?.remote || link.ipip.remote.isUnspecified());
      assert.deepEqual(await fixture.kernel.applyLinkOps([{ kind: 'delete', index: link?.index as number, name: 'ctipip' }]), []);
    });
    it('creates a kernel wireguard device', async (t) => {
      const device = { kind: 'wireguard' as const, implementation: 'kernel' as const, name: 'ctwg', mtu: 1420 };
      if (!(await createOrSkip(t, fixture.kernel, device))) return;
      const link = (await fixture.kernel.listLinks()).find((l) => l.name === 'ctwg');
      assert.deepEqual([link?.kind, link?.mtu, link?.up], ['wireguard', 1420, true]);
      assert.deepEqual(await fixture.kernel.applyLinkOps([{ kind: 'delete', index: link?.index as number, name: 'ctwg' }]), []);
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
  let next = 50;
  const makeTun = async (name: string) => {
    kernel.addLink({ index: next, name, mtu: 1500, up: false, kind: 'tun', tun: { type: 'tun' } });
    return next++;
  };
  return { kernel, linkIndex: 5, makeTun };
}, async () => undefined);

let netlink: NetlinkKernel | undefined;
kernelContract(`netlink adapter in ${netns}`, async () => {
  run('ip', ['link', 'add', 'ct0', 'type', 'veth', 'peer', 'name', 'ct1']);
  run('ip', ['addr', 'add', '198.18.9.1/24', 'dev', 'ct0']);
  run('ip', ['link', 'set', 'ct0', 'up']);
  run('ip', ['link', 'set', 'ct1', 'up']);
  netlink = NetlinkKernel.open();
  const link = (await netlink.listLinks()).find((l) => l.name === 'ct0');
  // A persistent TUN stands in for the data path's (which lives as long as its descriptor).
  const makeTun = async (name: string) => {
    run('ip', ['tuntap', 'add', 'dev', name, 'mode', 'tun']);
    return Number(run('cat', [`/sys/class/net/${name}/ifindex`]).stdout.trim());
  };
  return { kernel: netlink, linkIndex: link?.index ?? -1, makeTun };
}, async () => {
  netlink?.close();
  run('ip', ['link', 'del', 'ct0'], { allowFailure: true });
});

describe('kernel watcher (real kernel)', () => {
  it('reports the objects that changed, in order, without the writes of the socket it ignores', async () => {
    run('ip', ['link', 'add', 'cw0', 'type', 'veth', 'peer', 'name', 'cw1']);
    run('ip', ['addr', 'add', '198.18.10.1/24', 'dev', 'cw0']);
    run('ip', ['link', 'set', 'cw0', 'up']);
    const own = NetlinkKernel.open();
    const events: KernelEvent[] = [];
    const watcher = await startKernelWatcher({ ignorePortId: own.portId, onEvents: (batch) => events.push(...batch), onError: (error) => assert.fail(error) });
    const index = Number(run('cat', ['/sys/class/net/cw0/ifindex']).stdout.trim());
    const until = async (what: string, found: () => boolean) => {
      const deadline = Date.now() + 2000;
      while (!found() && Date.now() < deadline) await sleep(10);
      assert.ok(found(), what);
    };
    try {
      const ours = route('10.250.0.0/24', '198.18.10.2', index);
      assert.deepEqual(await own.applyRouteOps([{ kind: 'replace', route: ours }]), []);
      run('ip', ['route', 'del', '10.250.0.0/24']);
      await until('route deletion reported', () => events.some((e) => e.kind === 'route' && e.deleted));
      const routeEvents = events.filter((e) => e.kind === 'route' && e.route.dst.toString() === '10.250.0.0/24');
      assert.deepEqual(routeEvents.map((e) => e.kind === 'route' && [e.deleted, e.route.protocol, e.route.gateway?.toString(), e.route.linkIndex]),
        [[true, FLANNEL_ROUTE_PROTOCOL, '198.18.10.2', index]], 'our own add is left out; the deletion by someone else carries the route');
      run('ip', ['neigh', 'add', '198.18.10.9', 'lladdr', '02:00:00:00:00:09', 'dev', 'cw0', 'nud', 'permanent']);
      run('ip', ['neigh', 'del', '198.18.10.9', 'dev', 'cw0']);
      await until('neighbour deletion reported with its device and address', () =>
        events.some((e) => e.kind === 'neighbour' && e.deleted && e.entry.linkIndex === index && e.entry.ip?.toString() === '198.18.10.9'));
      run('ip', ['link', 'set', 'cw1', 'mtu', '1400']);
      await until('link change reported with the link', () => events.some((e) => e.kind === 'link' && e.link.name === 'cw1' && e.link.mtu === 1400));
      run('ip', ['addr', 'add', '198.18.10.5/24', 'dev', 'cw1']);
      await until('address reported', () => events.some((e) => e.kind === 'address' && !e.deleted && e.address.address.toString() === '198.18.10.5/24'));
    } finally {
      await watcher.stop();
      own.close();
      run('ip', ['link', 'del', 'cw0'], { allowFailure: true });
    }
  });

  it('idles without waking up, and stop() ends its blocked read at once', async () => {
    const watcher = await startKernelWatcher({ onEvents: () => {}, onError: (error) => assert.fail(error) });
    let stopped = false;
    try {
      await sleep(1200);
      // A polling read (the old 250 ms timeout) completes 4–5 reads here; a blocking one none (one allowed for a
      // stray notification of this namespace, e.g. a late IPv6 address).
      const idleReads = watcher.reads;
      assert.ok(idleReads <= 1, `${idleReads} reads completed while nothing changed`);
      const started = Date.now();
      await watcher.stop();
      stopped = true;
      // The read blocks for up to 60 s on its own; only the wake-up message ends it this early.
      assert.ok(Date.now() - started < 900, `stop() took ${Date.now() - started} ms`);
      assert.equal(watcher.reads, idleReads + 1, 'the wake-up was read, and nothing after it');
    } finally {
      if (!stopped) await watcher.stop();
    }
  });
});
