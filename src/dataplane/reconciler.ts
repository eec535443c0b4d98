/**
 * The Reconciler: the only writer to the kernel. It keeps a KernelView (one desired-vs-dataplane tracker per
 * kind of object) and applies the trackers' pending work. Three things feed the view, and all of them only
 * mark keys pending; one pass applies whatever is pending, so a full resync and an incremental pass are one
 * code path:
 * - `markDirty()`: the desired state changed (a lease event). The next pass re-plans; the DesiredIndex reports
 *   the keys of the per-peer groups that changed, and only those are compared (O(that peer)).
 * - `observe(events)`: kernel notifications carrying the changed object update the view of that one object
 *   (a route deleted by someone at 5,000 peers costs O(1), not a re-read of 15,000 entries).
 * - `requestResync()`: a full re-read replaces the view with a fresh listing. Done on the first pass, after
 *   notifications were lost (overflow), when one of our devices went away, down or changed index (the kernel
 *   flushes its routes and neighbours without telling), before retrying failures, and every
 *   `resyncIntervalMs` as a safety net.
 *
 * What a pass does is reconcile-pass.ts; what may be deleted is the Ownership's decision (ownership.ts).
 * Failed operations stay pending and are retried after a backoff (1 s doubling to 30 s), after a re-read.
 *
 * `run()` returns once `signal` aborts and the pass in progress has finished; it never deletes kernel state on
 * shutdown. `reconcileOnce()` runs one pass without the loop (`flannelctl uninstall`).
 *
 * Observability costs a few calls per pass, never one per entry: drift (a notification that breaks an object of
 * ours the plan wants, or a re-read that finds one broken without a notification) is added up and reported with
 * the pass that repairs it; object counts are read at scrape time (`objectCounts`); `stats` feeds status.
 */
import type { FlannelMetrics, KernelObjectKind, ObjectCounts } from '../metrics/flannel-metrics.js';
import { Alarm } from '../support/clock.js';
import { errorMessage } from '../support/errors.js';
import type { Logger } from '../support/logger.js';
import { Backoff, whenAborted } from '../support/timing.js';
import type { DesiredState } from './desired-state.js';
import { neighbourKey, routeKey } from './kernel-objects.js';
import { addressKey } from './kernel-view.js';
import type { Kernel, KernelEvent } from './kernel.js';
import type { Ownership } from './ownership.js';
import { type PassResult, ReconcilePass, nothing } from './reconcile-pass.js';

export type { PassResult };

/** Told around every pass (the daemon's lease → dataplane latency). */
export interface PassObserver {
  passStarted(): void;
  passEnded(result: PassResult): void;
}

/** What the reconciler has done since it started, for `flannelctl status`. */
export interface ReconcileStats {
  readonly passes: number;
  readonly lastPass?: {
    readonly endedAtMs: number;
    readonly ok: boolean;
    readonly durationMs: number;
    /** Operations attempted in the pass. */
    readonly changed: number;
    /** The failures' descriptions (op and kernel error), the first 20. */
    readonly errors: readonly string[];
  };
  readonly lastSuccessAtMs?: number;
  /** Objects of ours someone else changed or removed, by kind, since start. */
  readonly driftRepairs: Partial<Record<KernelObjectKind, number>>;
}

export interface ReconcilerOptions {
  readonly kernel: Kernel;
  /** Called when the desired state may have changed; must be cheap and pure (the backend's planner). */
  readonly plan: () => DesiredState;
  readonly logger: Logger;
  /** What this reconciler may delete (see ownership.ts). */
  readonly ownership: Ownership;
  /** Safety-net full re-read (default 5 min): notifications keep the view current between them. */
  readonly resyncIntervalMs?: number;
  /**
   * Called on every pass, once devices are handled, with the desired devices that are not in place (missing,
   * waiting for their data path, or not as wanted after this pass's attempt): the daemon is not ready while any are.
   */
  readonly onDeviceState?: (notInPlace: readonly string[]) => void;
  /** Called when the plan's devices that exist, or their indexes, changed (name → ifindex). */
  readonly onDevicesPresent?: (present: ReadonlyMap<string, number>) => void;
  /** Where passes, drift, notification overflows and object counts go (absent: nowhere). */
  readonly metrics?: FlannelMetrics['reconcile'];
  readonly observer?: PassObserver;
}

const DEFAULT_RESYNC_MS = 300_000;

export class Reconciler {
  private desiredDirty = true;
  private resyncDue = true;
  /** A notification left work (failed operations alone wait for the retry backoff instead). */
  private kernelChanged = false;
  private readonly alarm = new Alarm();
  private readonly retryBackoff = new Backoff(1000, 30_000);
  private readonly passes: ReconcilePass;
  private lastPass: PassResult | undefined;
  private passing = false;
  private readonly passListeners = new Set<(result: PassResult) => void>();
  private statistics: ReconcileStats = { passes: 0, driftRepairs: {} };
  /** Drift seen since the last pass reported (reported with the pass that repairs it). */
  private driftSeen: Partial<Record<KernelObjectKind, number>> = {};

  constructor(private readonly options: ReconcilerOptions) {
    this.passes = new ReconcilePass(options, (kind, count) => this.noteDrift(kind, count));
    options.metrics?.collectObjects(() => this.objectCounts());
  }

  get stats(): ReconcileStats {
    return this.statistics;
  }

  /** The plan the last pass applied. */
  get desired(): DesiredState {
    return this.passes.desiredState;
  }

  /** Per kind, what the plan wants and what of it is in place, as the reconciler's view has it (O(objects)). */
  objectCounts(): ObjectCounts {
    return this.passes.objectCounts();
  }

  /** The desired state changed; many calls before the pass starts cost one pass. */
  markDirty(): void {
    this.desiredDirty = true;
    this.alarm.wake();
  }

  /** Re-read everything on the next pass (and re-plan). */
  requestResync(): void {
    this.resyncDue = true;
    this.markDirty();
  }

  /** Kernel notifications, in the kernel's order (see KernelEvent). */
  observe(events: readonly KernelEvent[]): void {
    let wake = false;
    for (const event of events) {
      if (event.kind === 'overflow') {
        this.options.logger.warn('kernel notifications were lost; re-reading kernel state');
        this.options.metrics?.notificationOverflow();
        this.resyncDue = wake = true;
        continue;
      }
      const subject = this.driftSubject(event);
      const settled = subject !== undefined && !subject.pending();
      const effect = this.passes.view.observe(event);
      if (settled && subject.pending()) this.noteDrift(subject.kind, 1);
      if (effect === 'resync') this.resyncDue = true;
      wake ||= effect !== 'nothing';
    }
    if (!wake) return;
    this.kernelChanged = true;
    this.alarm.wake();
  }

  get lastResult(): PassResult | undefined {
    return this.lastPass;
  }

  /**
   * Resolves once the reconciler has nothing left to do: at once (with the last pass's result) when no pass is
   * running and nothing was asked for since the last one, which ended without failures or pending work;
   * otherwise after the next pass that ends so.
   */
  whenConverged(signal?: AbortSignal): Promise<PassResult> {
    return new Promise((resolve) => {
      if (!this.passing && this.lastPass && this.settled(this.lastPass)) return resolve(this.lastPass);
      const listener = (result: PassResult) => {
        if (this.settled(result)) {
          this.passListeners.delete(listener);
          resolve(result);
        }
      };
      this.passListeners.add(listener);
      if (signal) whenAborted(signal, () => this.passListeners.delete(listener));
    });
  }

  private settled(result: PassResult): boolean {
    return result.failed === 0 && result.pending === 0 && !this.desiredDirty && !this.resyncDue && !this.kernelChanged;
  }

  async run(signal: AbortSignal): Promise<void> {
    const resyncMs = this.options.resyncIntervalMs ?? DEFAULT_RESYNC_MS;
    let retryAtMs: number | undefined;
    let nextResyncMs = Date.now() + resyncMs;
    while (!signal.aborted) {
      const now = Date.now();
      if (retryAtMs !== undefined && now >= retryAtMs) this.requestResync();
      if (now >= nextResyncMs) {
        this.requestResync();
        nextResyncMs = now + resyncMs;
      }
      if (!this.desiredDirty && !this.resyncDue && !this.kernelChanged) {
        await this.alarm.sleep(Math.max(0, Math.min(retryAtMs ?? Infinity, nextResyncMs) - now), signal);
        continue;
      }
      const result = await this.reconcileOnce();
      retryAtMs = result.failed > 0 ? Date.now() + this.retryBackoff.next() : undefined;
      if (result.failed === 0) this.retryBackoff.reset();
      for (const listener of [...this.passListeners]) listener(result);
    }
  }

  /** One pass now. */
  async reconcileOnce(): Promise<PassResult> {
    const started = performance.now();
    const { logger } = this.options;
    this.passing = true;
    this.options.observer?.passStarted();
    const replan = this.desiredDirty;
    const reread = this.resyncDue;
    this.desiredDirty = this.resyncDue = this.kernelChanged = false;
    try {
      const { result, planned } = await this.passes.run(replan, reread);
      if (!planned) {
        this.desiredDirty = true;
        this.resyncDue ||= reread;
      }
      if (result.changed > 0 || result.failed > 0) {
        const { changed, routes, neighbours, failed, desired, fullRead, removedDevices } = result;
        logger.info({ changed, routes, neighbours, failed, desired, fullRead, ...(removedDevices.length > 0 ? { removedDevices } : {}) }, 'kernel state reconciled');
      }
      if (logger.isLevelEnabled('debug')) {
        const { rss, heapUsed } = process.memoryUsage();
        logger.debug({ ms: Math.round(performance.now() - started), fullRead: result.fullRead, rssMb: Math.round(rss / 1048576), heapUsedMb: Math.round(heapUsed / 1048576) }, 'reconcile pass');
      }
      return (this.lastPass = this.record(result, performance.now() - started));
    } catch (error) {
      this.resyncDue = true;
      logger.error({ err: errorMessage(error) }, 'reading kernel state failed');
      return (this.lastPass = this.record({ ...nothing(false), failed: 1, failures: [errorMessage(error)] }, performance.now() - started));
    } finally {
      this.passing = false;
    }
  }

  /** A pass ended: stats, one metrics report, the drift it repaired, the observer. */
  private record(result: PassResult, durationMs: number): PassResult {
    const endedAtMs = Date.now();
    const ok = result.failed === 0;
    this.statistics = {
      passes: this.statistics.passes + 1,
      lastPass: { endedAtMs, ok, durationMs: Math.round(durationMs * 100) / 100, changed: result.changed, errors: result.failures },
      ...(ok ? { lastSuccessAtMs: endedAtMs } : this.statistics.lastSuccessAtMs === undefined ? {} : { lastSuccessAtMs: this.statistics.lastSuccessAtMs }),
      driftRepairs: this.statistics.driftRepairs,
    };
    const { metrics } = this.options;
    if (metrics) {
      metrics.observePass({ result: ok ? 'ok' : 'failed', durationSeconds: durationMs / 1000, writes: result.writes, failures: result.writeFailures, endedAtMs });
      for (const [kind, count] of Object.entries(this.driftSeen)) metrics.driftRepaired(kind as KernelObjectKind, count);
    }
    this.driftSeen = {};
    this.options.observer?.passEnded(result);
    return result;
  }

  private noteDrift(kind: KernelObjectKind, count: number): void {
    this.driftSeen[kind] = (this.driftSeen[kind] ?? 0) + count;
    const totals = this.statistics.driftRepairs as Partial<Record<KernelObjectKind, number>>;
    totals[kind] = (totals[kind] ?? 0) + count;
  }

  /** The tracked object a notification is about: drift when it was in place before the notification and is not after. */
  private driftSubject(event: Exclude<KernelEvent, { kind: 'overflow' }>): { kind: KernelObjectKind; pending: () => boolean } | undefined {
    const view = this.passes.view;
    switch (event.kind) {
      case 'route': {
        const key = routeKey(event.route);
        return { kind: 'route', pending: () => view.routes.isPendingApply(key) };
      }
      case 'neighbour': {
        const key = neighbourKey(event.entry);
        return { kind: event.entry.kind, pending: () => view.neighbours.isPendingApply(key) };
      }
      case 'link':
        return { kind: 'link', pending: () => view.devices.isPendingApply(event.link.name) };
      case 'address': {
        const key = addressKey(event.address);
        return { kind: 'address', pending: () => view.addresses.isPendingApply(key) };
      }
    }
  }
}
