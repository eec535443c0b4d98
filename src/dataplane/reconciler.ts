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
 */
import { errorMessage } from '../support/errors.js';
import type { Logger } from '../support/logger.js';
import { Backoff, sleep } from '../support/timing.js';
import type { DesiredState } from './desired-state.js';
import type { Kernel, KernelEvent } from './kernel.js';
import type { Ownership } from './ownership.js';
import { type PassResult, ReconcilePass, nothing } from './reconcile-pass.js';

export type { PassResult };

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
}

const DEFAULT_RESYNC_MS = 300_000;

export class Reconciler {
  private desiredDirty = true;
  private resyncDue = true;
  /** A notification left work (failed operations alone wait for the retry backoff instead). */
  private kernelChanged = false;
  private wake: (() => void) | undefined;
  private readonly retryBackoff = new Backoff(1000, 30_000);
  private readonly passes: ReconcilePass;
  private lastPass: PassResult | undefined;
  private passing = false;
  private readonly passListeners = new Set<(result: PassResult) => void>();

  constructor(private readonly options: ReconcilerOptions) {
    this.passes = new ReconcilePass(options);
  }

  /** The desired state changed; many calls before the pass starts cost one pass. */
  markDirty(): void {
    this.desiredDirty = true;
    this.wake?.();
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
        this.resyncDue = wake = true;
        continue;
      }
      const effect = this.passes.view.observe(event);
      if (effect === 'resync') this.resyncDue = true;
      wake ||= effect !== 'nothing';
    }
    if (!wake) return;
    this.kernelChanged = true;
    this.wake?.();
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
      signal?.addEventListener('abort', () => this.passListeners.delete(listener), { once: true });
    });
  }

  private settled(result: PassResult): boolean {
    return result.failed === 0 && result.pending === 0 && !this.desiredDirty && !this.resyncDue && !this.kernelChanged;
  }

  async run(signal: AbortSignal): Promise<void> {
    const resyncMs = this.options.resyncIntervalMs ?? DEFAULT_RESYNC_MS;
    const onAbort = () => this.wake?.();
    signal.addEventListener('abort', onAbort);
    let retryAtMs: number | undefined;
    let nextResyncMs = Date.now() + resyncMs;
    try {
      while (!signal.aborted) {
        const now = Date.now();
        if (retryAtMs !== undefined && now >= retryAtMs) this.requestResync();
        if (now >= nextResyncMs) {
          this.requestResync();
          nextResyncMs = now + resyncMs;
        }
        if (!this.desiredDirty && !this.resyncDue && !this.kernelChanged) {
          await this.waitForWork(Math.min(retryAtMs ?? Infinity, nextResyncMs) - now, signal);
          continue;
        }
        const result = await this.reconcileOnce();
        retryAtMs = result.failed > 0 ? Date.now() + this.retryBackoff.next() : undefined;
        if (result.failed === 0) this.retryBackoff.reset();
        for (const listener of [...this.passListeners]) listener(result);
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  /** One pass now. */
  async reconcileOnce(): Promise<PassResult> {
    const started = performance.now();
    const { logger } = this.options;
    this.passing = true;
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
      return (this.lastPass = result);
    } catch (error) {
      this.resyncDue = true;
      logger.error({ err: errorMessage(error) }, 'reading kernel state failed');
      return (this.lastPass = { ...nothing(false), failed: 1, failures: [errorMessage(error)] });
    } finally {
      this.passing = false;
    }
  }

  private async waitForWork(ms: number, signal: AbortSignal): Promise<void> {
    const controller = new AbortController();
    this.wake = () => controller.abort();
    const stop = () => controller.abort();
    signal.addEventListener('abort', stop, { once: true });
    await sleep(Math.max(0, ms), controller.signal);
    signal.removeEventListener('abort', stop);
    this.wake = undefined;
  }
}
