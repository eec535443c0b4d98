import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LeaseLatency } from '../../src/metrics/lease-latency.js';
import { mapDataPathCounters } from '../../src/metrics/datapath-counter-map.js';
import { rejectionField } from '../../src/metrics/flannel-metrics.js';
import { createMetricsService } from '../../src/metrics/metrics-service.js';
import type { ProcessStats } from '../../src/metrics/process-metrics.js';

const PROCESS: ProcessStats = {
  cpuUserSeconds: 1.5, cpuSystemSeconds: 0.25, residentBytes: 40e6, virtualBytes: 900e6, heapBytes: 60e6, openFds: 17, maxFds: 1024,
  startTimeSeconds: 1_700_000_000, jsHeapUsedBytes: 8e6, jsHeapTotalBytes: 12e6, externalBytes: 1e6,
  eventLoopDelay: { meanSeconds: 0.051, p99Seconds: 0.06, maxSeconds: 0.07 },
};

describe('flannel metric catalogue', () => {
  it('names every family by Prometheus conventions: flannel_ prefix, _total counters, base units', () => {
    const service = createMetricsService({ version: '0.1.0', processStats: { read: () => PROCESS } });
    const families = service.registry.snapshot();
    const ours = families.filter((family) => !family.name.startsWith('process_') && !family.name.startsWith('nodejs_'));
    assert.ok(ours.length >= 30, `${ours.length} families`);
    for (const family of ours) {
      assert.match(family.name, /^flannel_[a-z0-9_]+$/, family.name);
      if (family.type === 'counter') assert.match(family.name, /_total$/, family.name);
      else assert.doesNotMatch(family.name, /_total$/, family.name);
      assert.doesNotMatch(family.name, /_(ms|milliseconds|kb|mb)(_|$)/, `${family.name}: base units only`);
      if (family.type === 'histogram') assert.match(family.name, /_seconds$/, family.name);
    }
  });

  it('typed calls move the series the issue lists', () => {
    const { metrics, registry, render } = createMetricsService({ version: '9.9.9' });
    metrics.reconcile.observePass({ result: 'ok', durationSeconds: 0.004, writes: { route: 3, fdb: 1 }, endedAtMs: 1_700_000_000_500 });
    metrics.reconcile.observePass({ result: 'failed', durationSeconds: 0.2, writes: { neigh: 2 }, failures: { neigh: 1 }, endedAtMs: 1_700_000_001_000 });
    metrics.reconcile.driftRepaired('fdb');
    metrics.reconcile.collectObjects(() => ({ route: { programmed: 4, desired: 5 }, link: { programmed: 1, desired: 1 } }));
    metrics.leases.event('added', 3);
    metrics.leases.rejected('BackendData.VtepMAC');
    metrics.leases.observeDataplaneLatency(0.03);
    metrics.leases.collectOwnExpiry(() => ({ expiresAtMs: 1_700_086_400_000 }));
    metrics.leases.collectPeers(() => ({ admitted: 7, rejected: 2 }));
    metrics.registry.request('etcd', 'create', 0.002);
    metrics.registry.request('etcd', 'renew', 5, 'timeout');
    metrics.registry.watchRestart('etcd', 'compacted');
    metrics.firewall.written('iptables', 4, 'drift');
    metrics.datapath.probes.probed('ok', 0.0004);
    metrics.datapath.probes.probed('timeout');
    metrics.daemon.collectReady(() => true);
    const checks: Array<[string, Record<string, string>, number]> = [
      ['flannel_reconcile_passes_total', { result: 'ok' }, 1],
      ['flannel_reconcile_passes_total', { result: 'failed' }, 1],
      ['flannel_reconcile_last_success_timestamp_seconds', {}, 1_700_000_000.5],
      ['flannel_kernel_writes_total', { kind: 'route' }, 3],
      ['flannel_kernel_write_failures_total', { kind: 'neigh' }, 1],
      ['flannel_drift_repairs_total', { kind: 'fdb' }, 1],
      ['flannel_kernel_objects', { kind: 'route' }, 4],
      ['flannel_kernel_objects_desired', { kind: 'route' }, 5],
      ['flannel_lease_events_total', { type: 'added' }, 3],
      ['flannel_lease_rejections_total', { field: 'BackendData' }, 1],
      ['flannel_lease_expiry_timestamp_seconds', {}, 1_700_086_400],
      ['flannel_peers', {}, 7],
      ['flannel_leases_rejected', {}, 2],
      ['flannel_registry_request_errors_total', { registry: 'etcd', op: 'renew', error: 'timeout' }, 1],
      ['flannel_watch_restarts_total', { registry: 'etcd', reason: 'compacted' }, 1],
      ['flannel_firewall_writes_total', { mode: 'iptables', family: '4', reason: 'drift' }, 1],
      ['flannel_peer_probes_total', { result: 'timeout' }, 1],
      ['flannel_ready', {}, 1],
      ['flannel_build_info', { version: '9.9.9' }, 1],
    ];
    for (const [name, labels, value] of checks) assert.equal(registry.value(name, labels), value, `${name}${JSON.stringify(labels)}`);
    assert.equal(registry.histogramValue('flannel_reconcile_duration_seconds', { result: 'ok' })?.count, 1);
    assert.equal(registry.histogramValue('flannel_lease_to_dataplane_seconds')?.count, 1);
    assert.equal(registry.histogramValue('flannel_registry_request_duration_seconds', { registry: 'etcd', op: 'create' })?.count, 1);
    assert.match(render(), /^flannel_reconcile_duration_seconds_bucket\{result="ok",le="0\.005"\} 1$/m);
  });

  it('renders process metrics under the shared client-library names', () => {
    const { render } = createMetricsService({ version: '0.1.0', processStats: { read: () => PROCESS } });
    const page = render();
    for (const line of [
      'process_cpu_seconds_total 1.75', 'process_resident_memory_bytes 40000000', 'process_open_fds 17', 'process_max_fds 1024',
      'process_start_time_seconds 1700000000', 'process_heap_bytes 60000000', 'nodejs_eventloop_lag_p99_seconds 0.06',
    ]) assert.ok(page.split('\n').includes(line), line);
    assert.match(page, /^# TYPE process_cpu_seconds_total counter$/m);
  });

  it('a lease that never expires reads +Inf; no lease, no sample', () => {
    const { metrics, registry } = createMetricsService({ version: '0.1.0' });
    let own: { expiresAtMs?: number } | undefined;
    metrics.leases.collectOwnExpiry(() => own);
    assert.equal(registry.value('flannel_lease_expiry_timestamp_seconds'), undefined);
    own = {};
    assert.equal(registry.value('flannel_lease_expiry_timestamp_seconds'), Infinity);
  });

  it('reads the data path\'s published counters at scrape time into the udp families', () => {
    const { metrics, registry, render } = createMetricsService({ version: '0.1.0' });
    assert.equal(registry.value('flannel_udp_packets_total', { direction: 'egress' }), undefined);
    const counters: Record<string, number> = {
      tunPacketsRead: 12, udpPacketsSent: 10, udpBytesSent: 1400, udpPacketsReceived: 5, tunPacketsWritten: 4, tunBytesWritten: 560,
      dropNoRoute: 2, dropBadHeaderLength: 1, icmpUnreachableSent: 2, syscallPoll: 99,
    };
    metrics.datapath.collectCounters(() => ({ backend: 'udp', counters }));
    assert.equal(registry.value('flannel_udp_packets_total', { direction: 'egress' }), 10);
    counters.udpPacketsSent = 11;
    assert.equal(registry.value('flannel_udp_packets_total', { direction: 'egress' }), 11, 'read at scrape time');
    assert.equal(registry.value('flannel_udp_packets_total', { direction: 'ingress' }), 4);
    assert.equal(registry.value('flannel_udp_bytes_total', { direction: 'ingress' }), 560);
    assert.equal(registry.value('flannel_udp_dropped_packets_total', { reason: 'no_route' }), 2);
    assert.equal(registry.value('flannel_udp_dropped_packets_total', { reason: 'bad_header_length' }), 1);
    assert.equal(registry.value('flannel_udp_icmp_unreachable_sent_total'), 2);
    assert.equal(registry.value('flannel_datapath_events_total', { backend: 'udp', counter: 'syscallPoll' }), 99, 'an unmapped counter is not lost');
    assert.match(render(), /^# TYPE flannel_udp_dropped_packets_total counter$/m);
  });

  it('maps the wireguard data path\'s per-device counters onto device labels, without per-peer series', () => {
    const { metrics, registry } = createMetricsService({ version: '0.1.0' });
    metrics.datapath.collectCounters(() => ({
      backend: 'wireguard',
      counters: {
        syncPasses: 9, syncFailures: 1, repairs: 3, wireguardGoStarts: 0,
        'flannel-wg.peers': 3, 'flannel-wg.peersRecentHandshake': 1, 'flannel-wg.oldestHandshakeAgeSeconds': 600, 'flannel-wg.rxBytes': 6, 'flannel-wg.txBytes': 8,
        'flannel-wg-v6.peers': 2,
      },
    }));
    const checks: Array<[string, Record<string, string>, number]> = [
      ['flannel_wireguard_peers', { device: 'flannel-wg' }, 3],
      ['flannel_wireguard_peers', { device: 'flannel-wg-v6' }, 2],
      ['flannel_wireguard_peers_recent_handshake', { device: 'flannel-wg' }, 1],
      ['flannel_wireguard_oldest_handshake_age_seconds', { device: 'flannel-wg' }, 600],
      ['flannel_wireguard_transfer_bytes_total', { device: 'flannel-wg', direction: 'tx' }, 8],
      ['flannel_wireguard_sync_passes_total', {}, 9],
      ['flannel_wireguard_repairs_total', {}, 3],
    ];
    for (const [name, labels, value] of checks) assert.equal(registry.value(name, labels), value, `${name}${JSON.stringify(labels)}`);
    assert.equal(registry.value('flannel_udp_packets_total', { direction: 'egress' }), undefined);
  });

  const fields: Array<[string, string]> = [['subnet', 'subnet'], ['BackendData.VtepMAC', 'BackendData'], ['PublicIP', 'PublicIP'], ['', 'other'], ['a b', 'other'], ['x'.repeat(40), 'other']];
  for (const [field, label] of fields) it(`rejection field ${JSON.stringify(field.slice(0, 12))} → ${label}`, () => assert.equal(rejectionField(field), label));
});

describe('LeaseLatency', () => {
  it('observes from the first event of a peer to the end of the first successful pass that started after it', () => {
    let now = 1000;
    const observed: number[] = [];
    const latency = new LeaseLatency({ now: () => now }, (seconds) => observed.push(seconds));
    latency.leaseChanged('a');
    now += 10;
    latency.leaseChanged('a');
    latency.passStarted();
    latency.leaseChanged('b');
    now += 20;
    latency.passEnded(false);
    assert.deepEqual(observed, []);
    latency.passStarted();
    now += 5;
    latency.passEnded(true);
    assert.deepEqual(observed, [0.035, 0.025]);
    assert.equal(latency.waiting, 0);
  });

  it('does not count an event that arrived during the pass as programmed by it', () => {
    let now = 0;
    const observed: number[] = [];
    const latency = new LeaseLatency({ now: () => now }, (seconds) => observed.push(seconds));
    latency.passStarted();
    latency.leaseChanged('late');
    now += 3;
    latency.passEnded(true);
    assert.deepEqual(observed, []);
    assert.equal(latency.waiting, 1);
  });
});

describe('data-path counter names → families', () => {
  const cases: Array<[string, string, Record<string, number>, Array<[string, Record<string, string>, number]>]> = [
    ['udp drop reasons in snake case', 'udp', { dropTtlExpired: 1, dropTunWriteFailed: 2 }, [
      ['flannel_udp_dropped_packets_total', { reason: 'ttl_expired' }, 1], ['flannel_udp_dropped_packets_total', { reason: 'tun_write_failed' }, 2]]],
    ['udp names mean nothing to another backend', 'wireguard', { udpPacketsSent: 5 }, [['flannel_datapath_events_total', { backend: 'wireguard', counter: 'udpPacketsSent' }, 5]]],
    ['an unknown backend keeps its counters as events', 'ipip', { encapsulated: 3 }, [['flannel_datapath_events_total', { backend: 'ipip', counter: 'encapsulated' }, 3]]],
    ['a name that is no label value is skipped', 'udp', { 'bad name{}': 1, ok: 2 }, [['flannel_datapath_events_total', { backend: 'udp', counter: 'ok' }, 2]]],
    ['a device name that is no label value is skipped', 'wireguard', { 'a"b.peers': 1 }, []],
  ];
  for (const [name, backend, counters, expected] of cases) {
    it(name, () => {
      const mapped = mapDataPathCounters(backend, counters);
      const samples = [...mapped.values()].flat().map((sample) => [sample.family, sample.labels, sample.value]);
      assert.deepEqual(samples, expected);
    });
  }
});
