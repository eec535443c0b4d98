/**
 * The daemon's metrics, in one place so that the lifecycle code makes one-line calls: lease events by type,
 * lease → dataplane latency (LeaseLatency, fed around every reconcile pass), rejections, renewals, and the
 * values read at scrape time (admitted and rejected peers, our lease's expiry, readiness, the data path's
 * counters). Without metrics every call is a no-op. Pure: time comes from the injected clock.
 *
 * Lease events count what changed in our peer table (a peer's lease renewed with the same value is no event),
 * the first snapshot's peers included (they were added); latency is measured from every change after the
 * first snapshot to the end of the reconcile pass that applied it (start-up is the time to all entries, a
 * different figure).
 */
import { type Lease, leaseKey } from '../lease/lease.js';
import type { LeaseTracker, LeaseWatchResult } from '../lease/lease-tracker.js';
import type { FlannelMetrics, LeaseEventType } from '../metrics/flannel-metrics.js';
import { LeaseLatency } from '../metrics/lease-latency.js';
import type { PassObserver } from '../dataplane/reconciler.js';
import type { SubnetManager } from '../subnet/subnet-manager.js';
import type { Clock } from '../support/clock.js';

/** What is read at scrape time. */
export interface DaemonReadings {
  readonly peers: () => { admitted: number; rejected: number } | undefined;
  readonly ownLease: () => Lease | undefined;
  readonly ready: () => boolean;
  /** The running backend's type and its data path's last published counters (undefined: none). */
  readonly dataPath: () => { backend: string; counters: Readonly<Record<string, number>> } | undefined;
}

type LeaseKeeping = Pick<SubnetManager, 'acquireLease' | 'renewLease'>;

export class DaemonObservation {
  private readonly latency: LeaseLatency | undefined;
  private snapshotsSeen = 0;
  /** Around every reconcile pass (passes ending without failures observe the latency of what they applied). */
  readonly passObserver: PassObserver | undefined;

  constructor(
    private readonly metrics: FlannelMetrics | undefined,
    clock: Pick<Clock, 'now'>,
  ) {
    const latency = metrics ? new LeaseLatency(clock, (seconds) => metrics.leases.observeDataplaneLatency(seconds)) : undefined;
    this.latency = latency;
    this.passObserver = latency && { passStarted: () => latency.passStarted(), passEnded: (result) => latency.passEnded(result.failed === 0) };
  }

  /** Registers the scrape-time readings. */
  collect(readings: DaemonReadings): void {
    const { metrics } = this;
    if (!metrics) return;
    metrics.leases.collectPeers(readings.peers);
    metrics.leases.collectOwnExpiry(() => {
      const lease = readings.ownLease();
      return lease && (lease.expiresAtMs === undefined ? {} : { expiresAtMs: lease.expiresAtMs });
    });
    metrics.daemon.collectReady(readings.ready);
    metrics.datapath.collectCounters(readings.dataPath);
  }

  /** Before the tracker takes `result`: the keys it touches that the tracker holds now (added vs changed). */
  knownBefore(result: LeaseWatchResult, tracker: LeaseTracker): ReadonlySet<string> {
    if (!this.metrics) return new Set();
    if (result.kind === 'snapshot') return new Set(tracker.peers().map(leaseKey));
    const keys = result.events.map((event) => (event.type === 'added' ? leaseKey(event.lease) : leaseKey(event)));
    return new Set(keys.filter((key) => tracker.get(key) !== undefined));
  }

  /**
   * After the tracker took `result`: counts the changed peers by type and, when the admitted peers changed,
   * starts their latency clocks (not for the first snapshot).
   */
  leasesChanged(result: LeaseWatchResult, changed: readonly string[], knownBefore: ReadonlySet<string>, present: (key: string) => boolean, peersChanged: boolean): void {
    const { metrics, latency } = this;
    if (!metrics || !latency) return;
    const counts: Record<LeaseEventType, number> = { added: 0, changed: 0, removed: 0 };
    for (const key of changed) counts[!present(key) ? 'removed' : knownBefore.has(key) ? 'changed' : 'added']++;
    for (const type of ['added', 'changed', 'removed'] as const) if (counts[type] > 0) metrics.leases.event(type, counts[type]);
    const first = result.kind === 'snapshot' && this.snapshotsSeen++ === 0;
    if (peersChanged && !first) for (const key of changed) latency.leaseChanged(key);
  }

  rejected(field: string): void {
    this.metrics?.leases.rejected(field);
  }

  /** The subnet manager as the lease keeper uses it, with renewals counted. */
  countRenewals(manager: LeaseKeeping): LeaseKeeping {
    const metrics = this.metrics;
    if (!metrics) return manager;
    return {
      acquireLease: (config, attrs, prefer) => manager.acquireLease(config, attrs, prefer),
      renewLease: async (lease) => {
        try {
          const renewed = await manager.renewLease(lease);
          metrics.leases.renewal('ok');
          return renewed;
        } catch (error) {
          metrics.leases.renewal('failed');
          throw error;
        }
      },
    };
  }
}
