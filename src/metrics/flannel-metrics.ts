/**
 * The catalogue of flannel-ts' own metrics: every name, help text, label and bucket layout, behind typed calls
 * the components make (`metrics.reconcile.observePass(…)`, `metrics.leases.event('added')`). Built once over a
 * MetricsSink and passed to whoever counts; a component never names a metric itself.
 *
 * Naming follows prometheus.io/docs/practices/naming: `flannel_` prefix, base units (`_seconds`, `_bytes`),
 * counters in `_total`, and labels from small fixed sets (no per-peer label: 5,000 peers must not become 5,000
 * series). Histogram buckets: the reconcile layout is Calico felix's apply-time buckets with a finer low end (our
 * passes take milliseconds) and 2.5 s / 5 s for the slow tail; lease → dataplane uses Prometheus' default layout
 * (Cilium's policy implementation delay measures the same kind of delay).
 *
 * Hot paths pay one call per event or per pass (a reconcile pass reports its writes by kind in one call, never
 * one per entry); values that are cheap to read and costly to keep current — kernel objects by kind, peers, our
 * lease's expiry, readiness — are registered as sources (`collect…`) and read only when a scrape asks.
 *
 * The data-path families (udp, wireguard, peer probes) live in datapath-metrics.ts.
 */
import type { FirewallMode } from '../traffic/firewall.js';
import { type DatapathMetrics, createDatapathMetrics } from './datapath-metrics.js';
import type { MetricsSink } from './metrics-sink.js';
import { ScrapeReading } from './scrape-reading.js';

/** What the reconciler owns in the kernel, by kind. */
export const KERNEL_OBJECT_KINDS = ['link', 'address', 'route', 'neigh', 'fdb', 'wireguard_peer'] as const;
export type KernelObjectKind = (typeof KERNEL_OBJECT_KINDS)[number];

export const RECONCILE_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2.5, 5] as const;
export const LEASE_LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;
export const REGISTRY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

/** One reconcile pass, as the reconciler reports it. */
export interface ReconcilePassReport {
  readonly result: 'ok' | 'failed';
  readonly durationSeconds: number;
  /** Kernel writes attempted in the pass, by kind (missing kinds: none). */
  readonly writes?: Partial<Record<KernelObjectKind, number>>;
  /** Of those, the ones the kernel refused. */
  readonly failures?: Partial<Record<KernelObjectKind, number>>;
  /** Epoch ms at the end of the pass (for the last-success timestamp). */
  readonly endedAtMs: number;
}

/** Kernel objects of one kind: what the plan wants, and how many of those the kernel holds as wanted. */
export interface ObjectCount {
  readonly desired: number;
  readonly programmed: number;
}
export type ObjectCounts = Partial<Record<KernelObjectKind, ObjectCount>>;

export type LeaseEventType = 'added' | 'changed' | 'removed';
/** The store a SubnetManager talks to. */
export type RegistryKind = 'etcd' | 'kubernetes';
/**
 * Registry operations, named by what flanneld asks (each adapter maps its calls onto these): `get` reads one
 * object (a Kubernetes Node or Pod), `renew` rewrites our lease under a fresh TTL, `watch` is the time until
 * the store confirmed a watch.
 */
export type RegistryOp = 'get_config' | 'get' | 'list' | 'watch' | 'create' | 'update' | 'delete' | 'renew';
/** Why a request failed, in classes an operator acts on (the log line has the message). */
export type RegistryErrorClass = 'unavailable' | 'timeout' | 'unauthorized' | 'conflict' | 'not_found' | 'invalid' | 'other';
/**
 * Why a lease watch ended and was started again: the history it resumed from was compacted (re-list), the store
 * was wiped or restored (`reset`, re-list), the stream failed (`error`), the server closed it (`closed`, e.g. a
 * Kubernetes watch's timeout) or the resource version expired (`expired`, Kubernetes 410).
 */
export type WatchRestartReason = 'compacted' | 'reset' | 'error' | 'closed' | 'expired';
export type FirewallWriteReason = 'start' | 'changed' | 'drift';

export interface FlannelMetrics {
  readonly reconcile: {
    observePass(report: ReconcilePassReport): void;
    /** Objects of ours that someone else changed or deleted (each put back by the next pass). */
    driftRepaired(kind: KernelObjectKind, count?: number): void;
    /** What the plan wants and what of it is in place, read at scrape time (O(objects) per scrape, nothing per pass). */
    collectObjects(source: () => ObjectCounts): void;
    /** The kernel notification socket overflowed (ENOBUFS): a full re-read follows. */
    notificationOverflow(): void;
  };
  readonly leases: {
    event(type: LeaseEventType, count?: number): void;
    /** Peers admitted to the planner right now, and leases rejected right now (read at scrape time). */
    collectPeers(source: () => { readonly admitted: number; readonly rejected: number } | undefined): void;
    /** A peer lease was rejected; `field` is the LeaseProblem field (only its first segment is kept). */
    rejected(field: string): void;
    /** Seconds from a lease event's arrival to the reconcile pass that programmed it (see LeaseLatency). */
    observeDataplaneLatency(seconds: number): void;
    renewal(result: 'ok' | 'failed'): void;
    /**
     * Our own lease, read at scrape time: undefined while we hold none (no sample), `expiresAtMs` undefined when
     * it never expires (+Inf).
     */
    collectOwnExpiry(source: () => { readonly expiresAtMs?: number } | undefined): void;
  };
  readonly registry: {
    request(registry: RegistryKind, op: RegistryOp, seconds: number, error?: RegistryErrorClass): void;
    watchRestart(registry: RegistryKind, reason: WatchRestartReason): void;
  };
  readonly firewall: {
    written(mode: FirewallMode, family: 4 | 6, reason: FirewallWriteReason): void;
    writeFailed(mode: FirewallMode): void;
  };
  readonly datapath: DatapathMetrics;
  readonly daemon: {
    /** This host's readiness (/readyz), read at scrape time. */
    collectReady(source: () => boolean): void;
  };
}

/** Registers every flannel_ family on `sink` (once per sink) and returns the typed calls. */
export function createFlannelMetrics(sink: MetricsSink, info: { version: string }): FlannelMetrics {
  const passes = sink.counter({ name: 'flannel_reconcile_passes_total', help: 'Reconcile passes (observe, diff, apply), by result.', labelNames: ['result'] });
  const passDuration = sink.histogram({
    name: 'flannel_reconcile_duration_seconds', help: 'Duration of reconcile passes, by result.', labelNames: ['result'], buckets: RECONCILE_BUCKETS,
  });
  const lastSuccess = sink.gauge({ name: 'flannel_reconcile_last_success_timestamp_seconds', help: 'When the last reconcile pass without failures ended (Unix time).' });
  const kernelWrites = sink.counter({ name: 'flannel_kernel_writes_total', help: 'Kernel writes attempted by the reconciler, by object kind.', labelNames: ['kind'] });
  const kernelFailures = sink.counter({ name: 'flannel_kernel_write_failures_total', help: 'Kernel writes the kernel refused (retried on a later pass), by object kind.', labelNames: ['kind'] });
  const drift = sink.counter({
    name: 'flannel_drift_repairs_total', help: 'Kernel objects of flannel\'s that someone else changed or removed (each put back by the next pass), by kind.', labelNames: ['kind'],
  });
  let objectSource: (() => ObjectCounts) | undefined;
  const objectCounts = new ScrapeReading<ObjectCounts>(() => objectSource?.() ?? {}, {});
  const perKind = (counts: ObjectCounts, pick: (count: ObjectCount) => number) =>
    KERNEL_OBJECT_KINDS.flatMap((kind) => { const count = counts[kind]; return count ? [{ labels: { kind }, value: pick(count) }] : []; });
  sink.collected('gauge', { name: 'flannel_kernel_objects', help: 'Kernel objects the plan wants that the kernel holds as wanted, by kind.', labelNames: ['kind'] },
    () => perKind(objectCounts.fresh(), (count) => count.programmed));
  sink.collected('gauge', { name: 'flannel_kernel_objects_desired', help: 'Kernel objects the current plan wants, by kind.', labelNames: ['kind'] },
    () => perKind(objectCounts.current(), (count) => count.desired));
  const overflows = sink.counter({ name: 'flannel_kernel_notification_overflows_total', help: 'Kernel notifications lost (socket buffer overflow), each followed by a full re-read.' });

  const leaseEvents = sink.counter({ name: 'flannel_lease_events_total', help: 'Peer lease events received from the registry, by type.', labelNames: ['type'] });
  let peerSource: (() => { readonly admitted: number; readonly rejected: number } | undefined) | undefined;
  sink.collected('gauge', { name: 'flannel_peers', help: 'Peer leases admitted to the planner.' }, () => {
    const peers = peerSource?.();
    return peers ? [{ labels: {}, value: peers.admitted }] : [];
  });
  sink.collected('gauge', { name: 'flannel_leases_rejected', help: 'Peer leases rejected right now (malformed or conflicting).' }, () => {
    const peers = peerSource?.();
    return peers ? [{ labels: {}, value: peers.rejected }] : [];
  });
  const rejections = sink.counter({ name: 'flannel_lease_rejections_total', help: 'Peer lease rejections, by the field at fault.', labelNames: ['field'] });
  const latency = sink.histogram({
    name: 'flannel_lease_to_dataplane_seconds', help: 'Delay from a peer lease event to the reconcile pass that programmed it.', buckets: LEASE_LATENCY_BUCKETS,
  });
  const renewals = sink.counter({ name: 'flannel_lease_renewals_total', help: 'Renewals of our own lease, by result.', labelNames: ['result'] });
  let ownSource: (() => { readonly expiresAtMs?: number } | undefined) | undefined;
  sink.collected('gauge', { name: 'flannel_lease_expiry_timestamp_seconds', help: 'When our own lease expires unless renewed (Unix time; +Inf when it never expires).' }, () => {
    const own = ownSource?.();
    return own ? [{ labels: {}, value: own.expiresAtMs === undefined ? Infinity : own.expiresAtMs / 1000 }] : [];
  });

  const registryDuration = sink.histogram({
    name: 'flannel_registry_request_duration_seconds', help: 'Registry (etcd, Kubernetes API) request latency, by registry and operation.',
    labelNames: ['registry', 'op'], buckets: REGISTRY_BUCKETS,
  });
  const registryErrors = sink.counter({
    name: 'flannel_registry_request_errors_total', help: 'Failed registry requests, by registry, operation and error class.', labelNames: ['registry', 'op', 'error'],
  });
  const watchRestarts = sink.counter({
    name: 'flannel_watch_restarts_total', help: 'Lease watches restarted, by registry and reason (compacted: history gone, full re-list).', labelNames: ['registry', 'reason'],
  });

  const firewallWrites = sink.counter({
    name: 'flannel_firewall_writes_total', help: 'Firewall transactions written (iptables-restore or nft -f), by mode, family and reason.', labelNames: ['mode', 'family', 'reason'],
  });
  const firewallFailures = sink.counter({ name: 'flannel_firewall_write_failures_total', help: 'Firewall reads or writes that failed (retried at the next resync), by mode.', labelNames: ['mode'] });

  let readySource: (() => boolean) | undefined;
  sink.collected('gauge', { name: 'flannel_ready', help: '1 while this host is ready (devices in place, subnet.env current), else 0.' }, () =>
    (readySource ? [{ labels: {}, value: readySource() ? 1 : 0 }] : []));
  sink.collected('gauge', { name: 'flannel_build_info', help: 'Build information; the value is always 1.', labelNames: ['version'] }, () => [{ labels: { version: info.version }, value: 1 }]);

  const incPerKind = (family: { inc(labels: { kind: string }, amount?: number): void }, counts: Partial<Record<KernelObjectKind, number>> | undefined) => {
    for (const kind of KERNEL_OBJECT_KINDS) {
      const count = counts?.[kind];
      if (count) family.inc({ kind }, count);
    }
  };
  return {
    reconcile: {
      observePass(report) {
        passes.inc({ result: report.result });
        passDuration.observe({ result: report.result }, report.durationSeconds);
        incPerKind(kernelWrites, report.writes);
        incPerKind(kernelFailures, report.failures);
        if (report.result === 'ok') lastSuccess.set({}, report.endedAtMs / 1000);
      },
      driftRepaired: (kind, count = 1) => drift.inc({ kind }, count),
      collectObjects: (source) => void (objectSource = source),
      notificationOverflow: () => overflows.inc({}),
    },
    leases: {
      event: (type, count = 1) => leaseEvents.inc({ type }, count),
      collectPeers: (source) => void (peerSource = source),
      rejected: (field) => rejections.inc({ field: rejectionField(field) }),
      observeDataplaneLatency: (seconds) => latency.observe({}, seconds),
      renewal: (result) => renewals.inc({ result }),
      collectOwnExpiry: (source) => void (ownSource = source),
    },
    registry: {
      request(registry, op, seconds, error) {
        registryDuration.observe({ registry, op }, seconds);
        if (error) registryErrors.inc({ registry, op, error });
      },
      watchRestart: (registry, reason) => watchRestarts.inc({ registry, reason }),
    },
    firewall: {
      written: (mode, family, reason) => firewallWrites.inc({ mode, family: String(family), reason }),
      writeFailed: (mode) => firewallFailures.inc({ mode }),
    },
    datapath: createDatapathMetrics(sink),
    daemon: { collectReady: (source) => void (readySource = source) },
  };
}

/**
 * The label value for a rejection: the field's first segment (`BackendData.VtepMAC` → `BackendData`), and
 * `other` for anything that is not a plain identifier, so a hostile lease cannot mint new series.
 */
export function rejectionField(field: string): string {
  const head = field.split('.')[0] ?? '';
  return /^[A-Za-z][A-Za-z0-9]{0,31}$/.test(head) ? head : 'other';
}
