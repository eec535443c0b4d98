import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { neighbourKey } from '../../src/dataplane/kernel-objects.js';
import { createMetricsService } from '../../src/metrics/metrics-service.js';
import { buildStatusDocument } from '../../src/ops/status-document.js';
import { statusHealthy } from '../../src/ops/status-text.js';
import { MemoryRegistry } from '../../src/subnet/memory-registry.js';
import { DaemonHost, until } from '../support/daemon-host.js';

const CONFIG = '{"Network":"10.244.0.0/16","SubnetMax":"10.244.99.0","Backend":{"Type":"vxlan"}}';
const vxlanValue = (publicIP: string, mac: string) => JSON.stringify({ PublicIP: publicIP, PublicIPv6: null, BackendType: 'vxlan', BackendData: { VNI: 1, VtepMAC: mac } });

/** One vxlan daemon with metrics and status inputs on a fresh registry, for the length of `body`. */
async function withObservedDaemon(
  body: (host: DaemonHost, registry: MemoryRegistry, value: (name: string, labels?: Record<string, string>) => number | undefined, histogramCount: (name: string) => number) => Promise<void>,
  overrides: { renewMarginMs?: number } = {},
): Promise<void> {
  const registry = new MemoryRegistry();
  registry.setNetworkConfig(CONFIG);
  registry.putRaw('10.244.200.0-24', vxlanValue('198.18.0.20', '02:00:00:00:00:20'));
  const service = createMetricsService({ version: 'test' });
  let host: DaemonHost | undefined;
  host = new DaemonHost(registry, '198.18.0.11', {
    metrics: service.metrics,
    status: { version: 'test', pid: 42, startedAtMs: 1, subnetFilePath: '/run/x/subnet.env', readSubnetFile: () => host?.subnetEnv || undefined },
    ...overrides,
  }).start();
  try {
    await until('ready', () => host.daemon.ready);
    await body(host, registry, (name, labels = {}) => service.registry.value(name, labels), (name) => service.registry.histogramValue(name)?.count ?? 0);
  } finally {
    await host.stop();
  }
}

const routed = (host: DaemonHost, subnet: string) => [...host.kernel.routes.values()].some((route) => route.dst.toString() === subnet);

describe('flanneld daemon metrics', () => {
  it('lease events by type, lease → dataplane latency for events after the first snapshot, peers, readiness and expiry', async () => {
    await withObservedDaemon(async (host, registry, value, histogramCount) => {
      await until('first peer routed', () => routed(host, '10.244.200.0/24'));
      assert.equal(value('flannel_lease_events_total', { type: 'added' }), 1, 'the first snapshot\'s peer was added');
      assert.equal(histogramCount('flannel_lease_to_dataplane_seconds'), 0, 'start-up is not a lease event');
      registry.putRaw('10.244.201.0-24', vxlanValue('198.18.0.21', '02:00:00:00:00:21'));
      await until('second peer routed', () => routed(host, '10.244.201.0/24'));
      await until('latency observed', () => histogramCount('flannel_lease_to_dataplane_seconds') === 1);
      registry.putRaw('10.244.201.0-24', vxlanValue('198.18.0.22', '02:00:00:00:00:21'));
      await until('changed', () => value('flannel_lease_events_total', { type: 'changed' }) === 1);
      await registry.deleteLease({ subnet: [...host.kernel.routes.values()].find((route) => route.dst.toString() === '10.244.201.0/24')!.dst });
      await until('route removed', () => !routed(host, '10.244.201.0/24'));
      await until('every event timed', () => histogramCount('flannel_lease_to_dataplane_seconds') === 3);
      assert.deepEqual(['added', 'changed', 'removed'].map((type) => value('flannel_lease_events_total', { type })), [2, 1, 1]);
      assert.equal(value('flannel_peers'), 1);
      assert.equal(value('flannel_ready'), 1);
      assert.equal(value('flannel_lease_expiry_timestamp_seconds'), (host.daemon.lease?.expiresAtMs as number) / 1000);
      assert.ok((value('flannel_reconcile_passes_total', { result: 'ok' }) ?? 0) >= 3);
    });
  });

  it('a rejected lease counts by field and shows in status and the lease table', async () => {
    await withObservedDaemon(async (host, registry, value) => {
      registry.putRaw('10.244.202.0-24', vxlanValue('198.18.0.23', 'ff:ff:ff:ff:ff:ff'));
      await until('rejected', () => value('flannel_leases_rejected') === 1);
      assert.equal(value('flannel_lease_rejections_total', { field: 'BackendData' }), 1);
      const table = host.daemon.leases();
      assert.equal(table.rejected.length, 1);
      assert.equal(table.rejected[0]?.lease.subnet.toString(), '10.244.202.0/24');
      assert.match(table.rejected[0]?.reason ?? '', /VtepMAC/);
      assert.equal(table.own?.subnet.toString(), host.daemon.lease?.subnet.toString());
      const document = buildStatusDocument(await host.daemon.statusFacts(), Date.now());
      assert.deepEqual(document.peers.rejectedLeases.map((entry) => entry.key), ['10.244.202.0-24']);
    });
  });

  it('renewals are counted', async () => {
    // A margin one second short of the 24 h TTL: renewed about a second after the lease is taken.
    await withObservedDaemon(async (_host, _registry, value) => {
      await until('renewed', () => (value('flannel_lease_renewals_total', { result: 'ok' }) ?? 0) >= 1, 4000);
    }, { renewMarginMs: 24 * 3600_000 - 1000 });
  });
});

describe('flanneld status provider', () => {
  it('status matches the kernel: devices, peers programmed, subnet.env, last pass; a missing FDB entry names the peer', async () => {
    await withObservedDaemon(async (host) => {
      await until('peer routed', () => routed(host, '10.244.200.0/24'));
      const healthy = buildStatusDocument(await host.daemon.statusFacts(), Date.now());
      assert.ok(statusHealthy(healthy), JSON.stringify(healthy, null, 2));
      assert.deepEqual([healthy.flanneld.pid, healthy.flanneld.ready, healthy.backend?.type, healthy.peers.desired, healthy.peers.programmed], [42, true, 'vxlan', 1, 1]);
      assert.equal(healthy.lease?.subnet, host.daemon.lease?.subnet.toString());
      assert.deepEqual(healthy.devices.map((device) => [device.name, device.present, device.differences]), [['flannel.1', true, []]]);
      assert.equal(healthy.devices[0]?.wanted.vni, 1);
      assert.deepEqual(healthy.subnetEnv, { path: '/run/x/subnet.env', matches: true, problems: [] });
      assert.equal(healthy.reconcile.lastResult, 'ok');
      // Nobody tells this daemon about kernel changes (no watcher here): status reads the kernel itself.
      const fdb = [...host.kernel.neighbours.values()].find((entry) => entry.kind === 'fdb')!;
      host.kernel.neighbours.delete(neighbourKey(fdb));
      const broken = buildStatusDocument(await host.daemon.statusFacts(), Date.now());
      assert.deepEqual(broken.peers.differing, [{ peer: '10.244.200.0/24', missing: ['fdb 02:00:00:00:00:20 dst 198.18.0.20 dev flannel.1'] }]);
      assert.equal(statusHealthy(broken), false);
      host.subnetEnv = host.subnetEnv.replace(/FLANNEL_MTU=\d+/, 'FLANNEL_MTU=1400');
      const stale = buildStatusDocument(await host.daemon.statusFacts(), Date.now());
      assert.deepEqual(stale.subnetEnv.problems, ['FLANNEL_MTU: file has 1400, lease and config want 1450']);
    });
  });

  it('tells datapath health what to probe: the VXLAN device\'s MAC, VNI and port, and the admitted peers', async () => {
    await withObservedDaemon(async (host) => {
      const targets = host.daemon.probeTargets();
      assert.ok(targets);
      const device = host.kernel.links.get([...host.kernel.links.values()].find((link) => link.name === 'flannel.1')!.index);
      assert.deepEqual([targets.context.backendType, targets.context.vni, targets.context.port, targets.context.ownVtepMac?.toString()], ['vxlan', 1, 8472, device?.mac?.toString()]);
      assert.deepEqual(targets.peers.map((peer) => peer.subnet.toString()), ['10.244.200.0/24']);
    });
  });
});
