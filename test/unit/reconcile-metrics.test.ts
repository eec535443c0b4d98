import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ExternalInterface } from '../../src/backend/backend.js';
import { createVxlanBackend } from '../../src/backend/vxlan/vxlan-backend.js';
import { desiredState } from '../../src/dataplane/desired-state.js';
import { MAIN_TABLE, NUD_PERMANENT, type Neighbour } from '../../src/dataplane/kernel-objects.js';
import { Reconciler, type PassObserver } from '../../src/dataplane/reconciler.js';
import type { Lease } from '../../src/lease/lease.js';
import { createMetricsService } from '../../src/metrics/metrics-service.js';
import { Cidr, IpAddress } from '../../src/net/ip.js';
import { MacAddress } from '../../src/net/mac.js';
import { silentLogger } from '../../src/support/logger.js';
import { config } from '../support/fixtures.js';
import { TEST_OWNERSHIP, hostKernel, settle, withReconciler } from '../support/reconcile.js';

const ext: ExternalInterface = {
  linkIndex: 2, name: 'eth0', mtu: 1500, ifaceAddr: Cidr.parse('198.18.0.11/24'), extAddr: IpAddress.parse('198.18.0.11'), prefixes: [Cidr.parse('198.18.0.0/24')],
};
const own: Lease = { subnet: Cidr.parse('10.244.1.0/24'), attrs: { publicIP: IpAddress.parse('198.18.0.11'), backendType: 'vxlan' } };
const peer = (n: number): Lease => ({
  subnet: Cidr.parse(`10.244.${n}.0/24`), attrs: { publicIP: IpAddress.parse(`198.18.0.${n + 10}`), backendType: 'vxlan', backendData: { VNI: 1, VtepMAC: `02:00:00:00:00:${n.toString(16).padStart(2, '0')}` } },
});

/** A vxlan host with two peers, a fresh metrics service, and the pass observer's log. */
function vxlanRig() {
  const kernel = hostKernel();
  const backend = createVxlanBackend({ config: config({ Backend: { Type: 'vxlan' } }), externalInterface: ext });
  const service = createMetricsService({ version: 'test' });
  const observed: string[] = [];
  const observer: PassObserver = { passStarted: () => observed.push('start'), passEnded: (result) => observed.push(result.failed === 0 ? 'ok' : 'failed') };
  const value = (name: string, labels: Record<string, string> = {}) => service.registry.value(name, labels) ?? 0;
  const drift = (kind: string) => value('flannel_drift_repairs_total', { kind });
  return { kernel, plan: () => backend.plan(own, [peer(2), peer(3)]), service, observed, observer, value, drift };
}

describe('reconciler metrics', () => {
  it('a pass reports its writes by kind, once per pass; object counts are read at scrape time', async () => {
    const rig = vxlanRig();
    await withReconciler(rig.kernel, rig.plan, async (reconciler) => {
      await reconciler.whenConverged();
      const passes = reconciler.stats.passes;
      assert.ok(passes >= 1);
      assert.equal(rig.value('flannel_reconcile_passes_total', { result: 'ok' }), passes);
      assert.equal(rig.service.registry.histogramValue('flannel_reconcile_duration_seconds', { result: 'ok' })?.count, passes);
      assert.deepEqual(['route', 'neigh', 'fdb', 'address'].map((kind) => rig.value('flannel_kernel_writes_total', { kind })), [2, 2, 2, 1]);
      assert.ok(rig.value('flannel_kernel_writes_total', { kind: 'link' }) >= 1, 'flannel.1 created');
      for (const kind of ['link', 'address', 'route', 'neigh', 'fdb']) {
        const wanted = kind === 'link' || kind === 'address' ? 1 : 2;
        assert.deepEqual([rig.value('flannel_kernel_objects_desired', { kind }), rig.value('flannel_kernel_objects', { kind })], [wanted, wanted], kind);
      }
      assert.ok(rig.value('flannel_reconcile_last_success_timestamp_seconds') > 0);
      assert.deepEqual(rig.observed, Array.from({ length: passes }, () => ['start', 'ok']).flat(), 'the observer hears every pass');
      assert.deepEqual(reconciler.stats.driftRepairs, {}, 'the first read finds no drift: nothing was in place before it');
      assert.equal(reconciler.stats.lastPass?.ok, true);
    }, 60_000, { metrics: rig.service.metrics.reconcile, observer: rig.observer });
  });

  it('a notification that breaks one of ours counts as drift of its kind; echoes, foreign objects and our repairs do not', async () => {
    const rig = vxlanRig();
    await withReconciler(rig.kernel, rig.plan, async (reconciler, notifications) => {
      await reconciler.whenConverged();
      rig.kernel.deleteRouteByHand([...rig.kernel.routes.values()].find((route) => route.dst.toString() === '10.244.2.0/24')!);
      await settle(reconciler, notifications);
      assert.deepEqual([rig.drift('route'), rig.drift('neigh'), rig.drift('fdb')], [1, 0, 0]);
      const fdb = [...rig.kernel.neighbours.values()].find((entry) => entry.kind === 'fdb')!;
      rig.kernel.deleteNeighbourByHand(fdb);
      await settle(reconciler, notifications);
      const neighbour = [...rig.kernel.neighbours.values()].find((entry) => entry.kind === 'neigh')!;
      rig.kernel.replaceNeighbourByHand({ ...neighbour, mac: MacAddress.parse('02:99:99:99:99:99') });
      await settle(reconciler, notifications);
      // Not ours and not desired: a route outside the network, and a dynamic neighbour on the uplink.
      rig.kernel.replaceRouteByHand({ dst: Cidr.parse('192.0.2.0/24'), gateway: IpAddress.parse('198.18.0.1'), linkIndex: 2, table: MAIN_TABLE, protocol: 4, type: 'unicast', onlink: false });
      const foreign: Neighbour = { kind: 'neigh', linkIndex: 2, ip: IpAddress.parse('198.18.0.99'), mac: MacAddress.parse('02:aa:00:00:00:01'), state: 0x02 };
      rig.kernel.replaceNeighbourByHand(foreign);
      await settle(reconciler, notifications);
      await settle(reconciler, notifications);
      assert.deepEqual([rig.drift('route'), rig.drift('neigh'), rig.drift('fdb'), rig.drift('link')], [1, 1, 1, 0]);
      assert.deepEqual(reconciler.stats.driftRepairs, { route: 1, fdb: 1, neigh: 1 });
    }, 60_000, { metrics: rig.service.metrics.reconcile });
  });

  it('a full re-read counts what changed without a notification; a deleted device counts as a link and its flushed entries', async () => {
    const rig = vxlanRig();
    await withReconciler(rig.kernel, rig.plan, async (reconciler, notifications) => {
      await reconciler.whenConverged();
      rig.kernel.routes.clear(); // unannounced: only a re-read sees it
      notifications.notifications.overflow();
      await settle(reconciler, notifications);
      assert.equal(rig.value('flannel_kernel_notification_overflows_total'), 1);
      assert.equal(rig.drift('route'), 2);
      rig.kernel.deleteLinkByHand('flannel.1');
      await settle(reconciler, notifications);
      assert.deepEqual([rig.drift('link'), rig.drift('route'), rig.drift('neigh'), rig.drift('fdb')], [1, 4, 2, 2]);
      assert.equal(rig.kernel.routes.size, 2, 'all back');
    }, 60_000, { metrics: rig.service.metrics.reconcile });
  });

  it('failed writes are counted by kind, the pass as failed, and status keeps the last success', async () => {
    const kernel = hostKernel();
    const service = createMetricsService({ version: 'test' });
    let plan = desiredState({});
    const reconciler = new Reconciler({ kernel, plan: () => plan, logger: silentLogger(), ownership: TEST_OWNERSHIP, metrics: service.metrics.reconcile });
    assert.equal((await reconciler.reconcileOnce()).failed, 0);
    const succeeded = reconciler.stats.lastSuccessAtMs;
    plan = desiredState({
      // Not on-link without `onlink`: ENETUNREACH. A device that does not exist: ENODEV.
      routes: [{ dst: Cidr.parse('10.244.9.0/24'), gateway: IpAddress.parse('203.0.113.1'), linkIndex: 2, table: MAIN_TABLE, protocol: 111, type: 'unicast', onlink: false }],
      neighbours: [{ kind: 'fdb', linkIndex: 99, ip: IpAddress.parse('198.18.0.12'), mac: MacAddress.parse('02:00:00:00:00:12'), state: NUD_PERMANENT }],
    });
    reconciler.markDirty();
    const result = await reconciler.reconcileOnce();
    assert.equal(result.failed, 2);
    const value = (name: string, labels: Record<string, string> = {}) => service.registry.value(name, labels);
    assert.deepEqual([value('flannel_kernel_write_failures_total', { kind: 'route' }), value('flannel_kernel_write_failures_total', { kind: 'fdb' })], [1, 1]);
    assert.equal(value('flannel_kernel_write_failures_total', { kind: 'neigh' }), undefined);
    assert.deepEqual([value('flannel_reconcile_passes_total', { result: 'ok' }), value('flannel_reconcile_passes_total', { result: 'failed' })], [1, 1]);
    assert.equal(reconciler.stats.lastPass?.ok, false);
    assert.equal(reconciler.stats.lastPass?.errors.length, 2);
    assert.equal(reconciler.stats.lastSuccessAtMs, succeeded);
    assert.equal(value('flannel_kernel_objects_desired', { kind: 'fdb' }), 1);
    assert.equal(value('flannel_kernel_objects', { kind: 'fdb' }), 0);
  });
});
