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
import { diffAddresses, diffDevices, diffNeighbours, diffRoutes } from './diff.js';
import { describeNeighbour, describeRoute } from './kernel-objects.js';
import type { Kernel, OpFailure } from './kernel.js';

export interface ReconcilerOptions {
  readonly kernel: Kernel;
  /** Called on every pass; must be cheap and pure (backend planner over the current lease table). */
  readonly plan: () => DesiredState;
  readonly logger: Logger;
  readonly resyncIntervalMs?: number;
}

export interface PassResult {
  /** Operations attempted in this pass (0: the kernel already matched). */
  readonly changed: number;
  readonly routes: number;
  readonly neighbours: number;
  readonly failed: number;
  /** Desired routes. */
  readonly desired: number;
}

const NOTHING: PassResult = { changed: 0, routes: 0, neighbours: 0, failed: 0, desired: 0 };

export class Reconciler {
  private dirty = true;
  private wake: (() => void) | undefined;
  private readonly retryBackoff = new Backoff(1000, 30_000);
  private lastWarnings = '';
  private passCount = 0;
  private ownedLinkIndexes = new Set<number>();
  private lastPass: PassResult | undefined;
  private readonly passListeners = new Set<(result: PassResult) => void>();

  constructor(private readonly options: ReconcilerOptions) {}

  /** Asks for a pass as soon as possible; many calls before the pass starts cost one pass. */
  markDirty(): void {
    this.dirty = true;
    this.wake?.();
  }

  /** True when the device with this index is one the reconciler manages (as of its last pass). */
  ownsLink(index: number): boolean {
    return this.ownedLinkIndexes.has(index);
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
    const { plan, logger } = this.options;
    this.passCount++;
    let desired: DesiredState;
    try {
      desired = plan();
    } catch (error) {
      logger.error({ err: errorMessage(error) }, 'planning kernel state failed');
      return this.record({ ...NOTHING, failed: 1 });
    }
    const warnings = desired.warnings.join('\n');
    if (warnings !== this.lastWarnings) {
      for (const warning of desired.warnings) logger.warn(warning);
      this.lastWarnings = warnings;
    }
    try {
      const result = await this.converge(desired);
      if (result.changed > 0 || result.failed > 0) logger.info(result, 'kernel state reconciled');
      return this.record(result);
    } catch (error) {
      logger.error({ err: errorMessage(error) }, 'reading kernel state failed');
      return this.record({ ...NOTHING, failed: 1, desired: desired.routes.length });
    }
  }

  /** observe → diff → apply, kind by kind: devices, addresses, neighbours/FDB, routes. */
  private async converge(desired: DesiredState): Promise<PassResult> {
    const { kernel } = this.options;
    const failures: Array<OpFailure<unknown> & { what: string }> = [];
    const collect = <Op>(list: OpFailure<Op>[], describe: (op: Op) => string) => {
      for (const failure of list) failures.push({ ...failure, what: describe(failure.op) });
    };
    let changed = 0;

    let links = await kernel.listLinks();
    if (desired.devices.length > 0) {
      const devices = diffDevices(desired.devices, links);
      for (const { name, differences } of devices.recreated) {
        this.options.logger.warn({ device: name, differences }, 'device exists with incompatible settings; recreating it');
      }
      if (devices.ops.length > 0) {
        collect(await kernel.applyLinkOps(devices.ops), (op) => `${op.kind} link ${op.kind === 'create' ? op.device.name : op.name}`);
        changed += devices.ops.length;
        links = await kernel.listLinks();
      }
    }
    const indexByName = new Map(links.map((link) => [link.name, link.index]));
    const owned = new Set(desired.devices.flatMap((device) => indexByName.get(device.name) ?? []));
    this.ownedLinkIndexes = owned;
    const unresolved = new Set<string>();
    const resolve = <T extends { linkName?: string; linkIndex?: number }>(entry: T): T | undefined => {
      if (entry.linkName === undefined) return entry;
      const linkIndex = indexByName.get(entry.linkName);
      if (linkIndex === undefined) {
        unresolved.add(entry.linkName);
        return undefined;
      }
      return { ...entry, linkIndex };
    };

    if (owned.size > 0) {
      const addresses = desired.addresses.flatMap((entry) => {
        const linkIndex = indexByName.get(entry.linkName);
        return linkIndex === undefined ? [] : [{ linkIndex, address: entry.address }];
      });
      const addressOps = diffAddresses(addresses, await kernel.listAddresses(), owned);
      collect(await kernel.applyAddressOps(addressOps), (op) => `${op.kind} address ${op.address}`);
      changed += addressOps.length;
    }
    const neighbourOps = owned.size > 0
      ? diffNeighbours(desired.neighbours.flatMap((entry) => resolve(entry) ?? []), await kernel.listNeighbours(), owned)
      : [];
    const neighbourAdds = neighbourOps.filter((op) => op.kind === 'replace');
    collect(await kernel.applyNeighbourOps(neighbourAdds), (op) => `${op.kind} ${describeNeighbour(op.entry)}`);

    const routeOps = diffRoutes(desired.routes.flatMap((route) => resolve(route) ?? []), await kernel.listRoutes());
    collect(await kernel.applyRouteOps(routeOps), (op) => `${op.kind} route ${describeRoute(op.route)}`);

    // Neighbour and FDB deletions last: a peer's route goes before the entries it resolves through.
    const neighbourDeletes = neighbourOps.filter((op) => op.kind === 'delete');
    collect(await kernel.applyNeighbourOps(neighbourDeletes), (op) => `${op.kind} ${describeNeighbour(op.entry)}`);
    changed += neighbourOps.length + routeOps.length;

    for (const failure of failures.slice(0, 20)) {
      this.options.logger.warn({ op: failure.what, err: failure.error.message }, 'kernel operation failed; will retry');
    }
    for (const name of unresolved) this.options.logger.warn({ device: name }, 'device missing; entries on it wait for it');
    return {
      changed,
      routes: routeOps.length,
      neighbours: neighbourOps.length,
      failed: failures.length + unresolved.size,
      desired: desired.routes.length,
    };
  }

  private record(result: PassResult): PassResult {
    this.lastPass = result;
    return result;
  }
}
