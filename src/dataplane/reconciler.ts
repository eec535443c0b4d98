/**
 * The Reconciler: the only writer to the kernel. Lease changes, kernel notifications (a route or link of ours
 * deleted) and a resync timer all call `markDirty()`; one loop coalesces them and runs observe → diff → apply.
 * Drift is repaired by the same path that adds peers.
 *
 * Failed operations are logged with their error and retried on the next pass, which comes after a backoff
 * (1 s doubling to 30 s) even if nothing else marks the state dirty. `run()` returns once `signal` aborts and
 * the pass in progress has finished; it never deletes kernel state on shutdown.
 */
import type { Logger } from '../support/logger.js';
import { Backoff, sleep } from '../support/timing.js';
import { errorMessage } from '../support/errors.js';
import type { DesiredState } from './desired-state.js';
import { diffRoutes } from './diff.js';
import { describeRoute } from './kernel-objects.js';
import type { Kernel } from './kernel.js';

export interface ReconcilerOptions {
  readonly kernel: Kernel;
  /** Called on every pass; must be cheap and pure (backend planner over the current lease table). */
  readonly plan: () => DesiredState;
  readonly logger: Logger;
  readonly resyncIntervalMs?: number;
}

export interface PassResult {
  readonly replaced: number;
  readonly deleted: number;
  readonly failed: number;
  readonly desired: number;
}

export class Reconciler {
  private dirty = true;
  private wake: (() => void) | undefined;
  private readonly retryBackoff = new Backoff(1000, 30_000);
  private lastWarnings = '';
  private passCount = 0;
  private lastPass: PassResult | undefined;
  private readonly passListeners = new Set<(result: PassResult) => void>();

  constructor(private readonly options: ReconcilerOptions) {}

  /** Asks for a pass as soon as possible; many calls before the pass starts cost one pass. */
  markDirty(): void {
    this.dirty = true;
    this.wake?.();
  }

  get passes(): number {
    return this.passCount;
  }

  get lastResult(): PassResult | undefined {
    return this.lastPass;
  }

  /** Resolves after the next pass that ends with nothing left to do (no failures). */
  whenConverged(signal?: AbortSignal): Promise<PassResult> {
    return new Promise((resolve) => {
      const listener = (result: PassResult) => {
        if (result.failed === 0 && !this.dirty) {
          this.passListeners.delete(listener);
          resolve(result);
        }
      };
      this.passListeners.add(listener);
      signal?.addEventListener('abort', () => this.passListeners.delete(listener), { once: true });
    });
  }

  async run(signal: AbortSignal): Promise<void> {
    const resyncMs = this.options.resyncIntervalMs ?? 10_000;
    const onAbort = () => this.wake?.();
    signal.addEventListener('abort', onAbort);
    let retryAtMs: number | undefined;
    let nextResyncMs = Date.now() + resyncMs;
    try {
      while (!signal.aborted) {
        const now = Date.now();
        if (!this.dirty && (retryAtMs === undefined || now < retryAtMs) && now < nextResyncMs) {
          const until = Math.min(retryAtMs ?? Infinity, nextResyncMs);
          await this.waitForWork(until - now, signal);
          continue;
        }
        this.dirty = false;
        nextResyncMs = Date.now() + resyncMs;
        const result = await this.pass();
        retryAtMs = result.failed > 0 ? Date.now() + this.retryBackoff.next() : undefined;
        if (result.failed === 0) this.retryBackoff.reset();
        for (const listener of [...this.passListeners]) listener(result);
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
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

  private async pass(): Promise<PassResult> {
    const { kernel, plan, logger } = this.options;
    this.passCount++;
    let desired: DesiredState;
    try {
      desired = plan();
    } catch (error) {
      logger.error({ err: errorMessage(error) }, 'planning kernel state failed');
      return this.record({ replaced: 0, deleted: 0, failed: 1, desired: 0 });
    }
    const warnings = desired.warnings.join('\n');
    if (warnings !== this.lastWarnings) {
      for (const warning of desired.warnings) logger.warn(warning);
      this.lastWarnings = warnings;
    }
    let observed;
    try {
      observed = await kernel.listRoutes();
    } catch (error) {
      logger.error({ err: errorMessage(error) }, 'reading kernel routes failed');
      return this.record({ replaced: 0, deleted: 0, failed: 1, desired: desired.routes.length });
    }
    const ops = diffRoutes(desired.routes, observed);
    if (ops.length === 0) return this.record({ replaced: 0, deleted: 0, failed: 0, desired: desired.routes.length });
    const failures = await kernel.applyRouteOps(ops);
    for (const failure of failures.slice(0, 20)) {
      logger.warn({ op: failure.op.kind, route: describeRoute(failure.op.route), err: failure.error.message }, 'route operation failed; will retry');
    }
    const replaced = ops.filter((op) => op.kind === 'replace').length;
    const result = {
      replaced, deleted: ops.length - replaced, failed: failures.length, desired: desired.routes.length,
    };
    logger.info(result, 'kernel routes reconciled');
    return this.record(result);
  }

  private record(result: PassResult): PassResult {
    this.lastPass = result;
    return result;
  }
}
