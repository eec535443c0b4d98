/**
 * Lease → dataplane latency: how long a peer's lease event waits before a reconcile pass has programmed it
 * (Cilium's "policy implementation delay" for flannel). The daemon calls `leaseChanged(key)` when it admits
 * an event and `passEnded(ok)` after every reconcile pass; a successful pass observes, for every event pending
 * since before the pass started, the time from the event's arrival to the end of the pass. A failed pass leaves
 * them pending (the latency then includes the retries, which is what an operator waits through).
 *
 * Several events of one peer before a pass count once, from the first (the peer waited since then). Pending
 * entries are capped (a snapshot of 5,000 leases is 5,000 entries; past the cap, further keys are not timed) so
 * a reconciler that never succeeds cannot grow memory. Pure: time comes from the injected clock.
 */
import type { Clock } from '../support/clock.js';

export const MAX_PENDING_LEASES = 20_000;

export class LeaseLatency {
  /** Key → arrival (epoch ms) and arrival order. */
  private readonly pending = new Map<string, { arrivedMs: number; order: number }>();
  private arrivals = 0;
  /** Arrivals counted when the running pass started (it plans with every lease that arrived before). */
  private passWatermark: number | undefined;

  constructor(
    private readonly clock: Pick<Clock, 'now'>,
    private readonly observe: (seconds: number) => void,
  ) {}

  /** A peer lease was added, changed or removed (and admitted to the planner). */
  leaseChanged(key: string): void {
    if (this.pending.has(key) || this.pending.size >= MAX_PENDING_LEASES) return;
    this.pending.set(key, { arrivedMs: this.clock.now(), order: this.arrivals++ });
  }

  /** A reconcile pass is starting: events from now on wait for the next one. */
  passStarted(): void {
    this.passWatermark = this.arrivals;
  }

  /** A pass ended; when it succeeded, every event that arrived before it started is programmed. */
  passEnded(ok: boolean): void {
    const watermark = this.passWatermark;
    this.passWatermark = undefined;
    if (!ok || watermark === undefined) return;
    const now = this.clock.now();
    for (const [key, { arrivedMs, order }] of this.pending) {
      if (order >= watermark) continue;
      this.observe(Math.max(0, now - arrivedMs) / 1000);
      this.pending.delete(key);
    }
  }

  /** Events not yet programmed (for tests and status). */
  get waiting(): number {
    return this.pending.size;
  }
}
