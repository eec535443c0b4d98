import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createHostGwBackend } from '../../src/backend/host-gw/host-gw-backend.js';
import type { ExternalInterface } from '../../src/backend/backend.js';
import { DesiredIndex } from '../../src/dataplane/desired-index.js';
import { KernelView } from '../../src/dataplane/kernel-view.js';
import { desiredState, routesOf } from '../../src/dataplane/desired-state.js';
import { FLANNEL_ROUTE_PROTOCOL, MAIN_TABLE, type Route } from '../../src/dataplane/kernel-objects.js';
import { Cidr, IpAddress } from '../../src/net/ip.js';
import { config, lease } from '../support/fixtures.js';
import { routeTable } from '../support/golden.js';
import { TEST_OWNERSHIP, hostKernel, settle, withReconciler } from '../support/reconcile.js';

const ext: ExternalInterface = {
  linkIndex: 2, name: 'eth0', mtu: 1500, ifaceAddr: Cidr.parse('198.18.0.11/24'), extAddr: IpAddress.parse('198.18.0.11'),
  prefixes: [Cidr.parse('198.18.0.0/24')],
};
const own = lease('10.244.1.0/24', '198.18.0.11');


describe('host-gw planner', () => {
  const backend = createHostGwBackend({ config: config(), externalInterface: ext });
  it('publishes host-gw leases with the interface MTU', () => {
    assert.equal(backend.mtu, 1500);
    assert.equal(backend.leaseAttrs.backendType, 'host-gw');
    assert.equal(backend.leaseAttrs.publicIP.toString(), '198.18.0.11');
  });
  it('plans one route per on-link host-gw peer and warns about the others', () => {
    const plan = backend.plan(own, [
      lease('10.244.2.0/24', '198.18.0.12'),
      lease('10.244.3.0/24', '203.0.113.9'),
      lease('10.244.4.0/24', '198.18.0.14', 'vxlan'),
    ]);
    assert.deepEqual(routesOf(plan).map((r) => `${r.dst} via ${r.gateway} dev ${r.linkIndex}`), ['10.244.2.0/24 via 198.18.0.12 dev 2']);
    assert.equal(plan.warnings.length, 2);
    assert.match(plan.warnings.join('\n'), /203\.0\.113\.9, which is not on-link on eth0/);
  });
  it('refuses a public IP that differs from the interface IP (NAT)', () => {
    assert.throws(() => createHostGwBackend({ config: config(), externalInterface: { ...ext, extAddr: IpAddress.parse('203.0.113.1') } }), /NAT/);
  });
});

/** The route work a view finds between desired and observed routes: `replace dst` / `delete dst`. */
function routeWork(desired: Route[], observed: Route[]): string[] {
  const view = new KernelView(TEST_OWNERSHIP);
  const index = new DesiredIndex(() => undefined);
  index.rebuild([{ routes: desired, neighbours: [] }]);
  view.setDesiredEntries(index);
  view.replaceRoutes(observed);
  return [...view.routes.pendingApplies().map(([, r]) => `replace ${r.dst}`), ...view.routes.pendingDeletes().map(([, r]) => `delete ${r.dst}`)];
}

describe('route work (tracker rules)', () => {
  const route = (dst: string, gw: string, protocol = FLANNEL_ROUTE_PROTOCOL): Route => ({
    dst: Cidr.parse(dst), gateway: IpAddress.parse(gw), linkIndex: 2, table: MAIN_TABLE, protocol, type: 'unicast' as const, onlink: false,
  });
  it('adds missing, replaces changed, deletes only our stale routes', () => {
    const ops = routeWork(
      [route('10.244.2.0/24', '198.18.0.12'), route('10.244.3.0/24', '198.18.0.13')],
      [route('10.244.3.0/24', '198.18.0.99'), route('10.244.9.0/24', '198.18.0.19'), route('192.0.2.0/24', '198.18.0.1', 4)],
    );
    assert.deepEqual(ops.sort(), ['delete 10.244.9.0/24', 'replace 10.244.2.0/24', 'replace 10.244.3.0/24']);
  });
  it('nothing to do when the kernel matches', () => {
    assert.deepEqual(routeWork([route('10.244.2.0/24', '198.18.0.12')], [{ ...route('10.244.2.0/24', '198.18.0.12'), scope: 0 }]), []);
  });
  it('a foreign route at a desired key is replaced; one at another key is left alone', () => {
    assert.deepEqual(routeWork([route('10.244.2.0/24', '198.18.0.12')], [route('10.244.2.0/24', '198.18.0.12', 4), route('10.244.5.0/24', '198.18.0.1', 4)]), ['replace 10.244.2.0/24']);
  });
  it('an IPv6 route without a metric is the kernel route with metric 1024', () => {
    const desired: Route = { dst: Cidr.parse('fd00:10:244:2::/64'), gateway: IpAddress.parse('fd00:10:244:2::'), linkIndex: 3, table: MAIN_TABLE, protocol: FLANNEL_ROUTE_PROTOCOL, type: 'unicast', onlink: true };
    assert.deepEqual(routeWork([desired], [{ ...desired, priority: 1024 }]), []);
  });
});

describe('Reconciler on MemoryKernel', () => {
  it('converges to the golden table, repairs drift, and a quiet pass writes nothing', async () => {
    const memory = hostKernel();
    let peers = [lease('10.244.2.0/24', '198.18.0.12'), lease('10.244.3.0/24', '198.18.0.13')];
    const backend = createHostGwBackend({ config: config(), externalInterface: ext });
    await withReconciler(memory, () => backend.plan(own, peers), async (reconciler, rig) => {
        await reconciler.whenConverged();
        assert.equal(routeTable(memory), '10.244.2.0/24 via 198.18.0.12 dev #2 proto 111\n10.244.3.0/24 via 198.18.0.13 dev #2 proto 111');
        const writes = memory.writes;
        reconciler.markDirty();
        await reconciler.whenConverged();
        assert.equal(memory.writes, writes, 'a pass with nothing to change writes nothing');
        memory.deleteRouteByHand([...memory.routes.values()][0]!);
        await settle(reconciler, rig);
        assert.equal(memory.routes.size, 2, 'drift repaired');
        peers = [lease('10.244.3.0/24', '198.18.0.13')];
        reconciler.markDirty();
        await reconciler.whenConverged();
        assert.equal(routeTable(memory), '10.244.3.0/24 via 198.18.0.13 dev #2 proto 111');
    });
  });
  it('retries failed operations and leaves foreign routes alone', async () => {
    const memory = hostKernel();
    memory.routes.set('x', { dst: Cidr.parse('192.0.2.0/24'), gateway: IpAddress.parse('198.18.0.1'), linkIndex: 2, table: MAIN_TABLE, protocol: 4, type: 'unicast', onlink: false });
    const route = { dst: Cidr.parse('10.244.2.0/24'), gateway: IpAddress.parse('198.18.0.12'), linkIndex: 7, table: MAIN_TABLE, protocol: FLANNEL_ROUTE_PROTOCOL, type: 'unicast' as const, onlink: false };
    await withReconciler(memory, () => desiredState({ routes: [route] }), async (reconciler) => {
        while (reconciler.lastResult === undefined) await new Promise((resolve) => setTimeout(resolve, 5));
        assert.equal(reconciler.lastResult?.failed, 1, 'device #7 does not exist yet');
        memory.addLink({ index: 7, name: 'eth7', mtu: 1500, up: true }, [{ address: Cidr.parse('198.18.0.11/24'), scope: 0, flags: 0 }]);
        await reconciler.whenConverged();
        assert.equal(memory.routes.size, 2, 'retried after backoff; foreign route kept');
    }, 10_000);
  });
});
