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
 * A pass: plan (if dirty) → re-read (if due) → devices: create/recreate/fix in place, wait for the ones a data
 * path creates → resolve device names in the desired entries → addresses → neighbour/FDB adds → route replaces
 * and deletes → neighbour/FDB deletes (a route goes before the entries it resolves through) → deletion of our
 * devices nobody wants (their entries go with them). What may be deleted is the Ownership's decision
 * (ownership.ts). Failed operations stay pending and are retried after a backoff (1 s doubling to 30 s).
 *
 * `run()` returns once `signal` aborts and the pass in progress has finished; it never deletes kernel state on
 * shutdown. `reconcileOnce()` runs one pass without the loop (`flannelctl uninstall`).
 */
import { errorMessage } from '../support/errors.js';
import type { Logger } from '../support/logger.js';
import { Backoff, sleep } from '../support/timing.js';
import { type FailedOp, applyBatch } from './apply-batch.js';
import { DesiredIndex } from './desired-index.js';
import { type DesiredState, EMPTY_DESIRED_STATE } from './desired-state.js';
import { describeLinkOp, deviceWork } from './device-work.js';
import { createdByReconciler } from './devices.js';
import { type Address, type Neighbour, type Route, describeNeighbour, describeRoute } from './kernel-objects.js';
import { KernelView, type ResolvedAddress } from './kernel-view.js';
import type { AddressOp, Kernel, KernelEvent, LinkOp, NeighbourOp, RouteOp } from './kernel.js';
import type { Ownership } from './ownership.js';

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
}

export interface PassResult {
  /** Operations attempted in this pass (0: the kernel already matched). */
  readonly changed: number;
  readonly routes: number;
  readonly neighbours: number;
  readonly failed: number;
  /** Desired routes. */
  readonly desired: number;
  /** Whether this pass re-read the kernel. */
  readonly fullRead: boolean;
  /** Work left that this pass could not do (failures, or work that arrived meanwhile); devices waited for excluded. */
  readonly pending: number;
  /** Routes removed: deleted, or gone with a device this pass deleted. */
  readonly removedRoutes: number;
  readonly removedDevices: readonly string[];
  /** Failed operations with their errors (at most 20). */
  readonly failures: readonly string[];
}

const DEFAULT_RESYNC_MS = 300_000;

/** What a pass did so far. */
interface PassWork {
  readonly failures: FailedOp[];
  changed: number;
  routes: number;
  neighbours: number;
  removedRoutes: number;
  readonly removedDevices: string[];
}

export class Reconciler {
  private desiredDirty = true;
  private resyncDue = true;
  /** A notification left work (failed operations alone wait for the retry backoff instead). */
  private kernelChanged = false;
  private wake: (() => void) | undefined;
  private readonly retryBackoff = new Backoff(1000, 30_000);
  private readonly view: KernelView;
  private desired: DesiredState = EMPTY_DESIRED_STATE;
  private index: DesiredIndex | undefined;
  /** `name=index` of the devices the index was resolved with. */
  private resolution = '';
  private groupsChanged = true;
  private lastWarnings = '';
  private lastWaiting = '';
  private lastPass: PassResult | undefined;
  private passing = false;
  private readonly passListeners = new Set<(result: PassResult) => void>();

  constructor(private readonly options: ReconcilerOptions) {
    this.view = new KernelView(options.ownership);
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
      const effect = this.view.observe(event);
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
    try {
      const result = await this.pass();
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

  private async pass(): Promise<PassResult> {
    const { logger } = this.options;
    if (this.desiredDirty && !this.replan()) return { ...nothing(false), failed: 1, failures: ['planning kernel state failed'] };
    this.kernelChanged = false;
    const fullRead = this.resyncDue;
    if (fullRead) {
      this.resyncDue = false;
      await this.readAll();
    }
    const work: PassWork = { failures: [], changed: 0, routes: 0, neighbours: 0, removedRoutes: 0, removedDevices: [] };
    const waiting = await this.applyDevices(work);
    const index = this.resolve();
    // Decided once, before anything is removed: a device's addresses make it ours, so they stay until it goes.
    const doomed = new Set(this.view.devices.pendingDeletes().map(([, link]) => link.index));
    await this.applyAddresses(work, doomed);
    await this.applyEntries(work, doomed);
    await this.removeUnwantedDevices(work);

    const { failures } = work;
    for (const failure of failures.slice(0, 20)) logger.warn({ op: failure.what, err: failure.error.message }, 'kernel operation failed; will retry');
    if (failures.some((failure) => failure.what.startsWith('replace neigh') && (failure.error as { code?: string }).code === 'ENOBUFS')) {
      // Kernels before 4.20 count permanent neighbours against gc_thresh3 (default 1024); later ones exempt them.
      logger.error('neighbour table full: raise net.ipv4.neigh.default.gc_thresh3 (and net.ipv6.neigh.default.gc_thresh3) above the number of peers');
    }
    const unresolved = [...index.unresolved].filter((name) => !waiting.includes(name));
    for (const name of unresolved) logger.warn({ device: name }, 'device missing; entries on it wait for it');
    return {
      changed: work.changed, routes: work.routes, neighbours: work.neighbours, failed: failures.length + unresolved.length,
      desired: index.routeCount, fullRead, pending: this.view.pendingCount() - waiting.length,
      removedRoutes: work.removedRoutes, removedDevices: work.removedDevices,
      failures: failures.slice(0, 20).map((failure) => `${failure.what}: ${failure.error.message}`),
    };
  }

  /**
   * Creates, recreates and fixes the wanted devices; reports which are not in place; returns the devices a
   * data path creates that do not exist yet.
   */
  private async applyDevices(work: PassWork): Promise<string[]> {
    const { logger } = this.options;
    const devices = this.view.devices;
    const plan = deviceWork(devices.pendingApplies(), (name) => devices.get(name));
    for (const { name, differences } of plan.recreated) logger.warn({ device: name, differences }, 'device exists with incompatible settings; recreating it');
    if (plan.ops.length > 0) {
      await this.applyLinkOps(plan.ops, work);
      await this.readLinks();
    }
    const notInPlace = devices.pendingApplies();
    const waiting = notInPlace.filter(([name, device]) => !createdByReconciler(device) && devices.get(name) === undefined).map(([name]) => name);
    if (waiting.join() !== this.lastWaiting) {
      if (waiting.length > 0) logger.info({ devices: waiting }, 'waiting for the data path to create its devices');
      this.lastWaiting = waiting.join();
    }
    this.options.onDeviceState?.(notInPlace.map(([name]) => name));
    return waiting;
  }

  private async applyAddresses(work: PassWork, doomed: ReadonlySet<number>): Promise<void> {
    const { kernel } = this.options;
    const tracker = this.view.addresses;
    const batch = (items: ReadonlyArray<readonly [string, ResolvedAddress]>, kind: 'add' | 'delete') => applyBatch<ResolvedAddress, Address, AddressOp>({
      tracker, items, run: (ops) => kernel.applyAddressOps(ops), toOp: (entry): AddressOp => ({ kind, linkIndex: entry.linkIndex, address: entry.address }),
      after: (op) => (op.kind === 'add' ? { linkIndex: op.linkIndex, address: op.address, scope: 0, flags: 0 } : undefined),
      isDelete: (op) => op.kind === 'delete', describe: (op) => `${op.kind} address ${op.address}`,
    }, work.failures);
    const count = (await batch(tracker.pendingApplies(), 'add')) + (await batch(spared(tracker.pendingDeletes(), doomed), 'delete'));
    work.changed += count;
    // Device ownership depends on addresses: read them back rather than mirror the kernel's bookkeeping.
    if (count > 0) await this.readLinks();
  }

  /** Neighbour/FDB adds, route replaces and deletes, neighbour/FDB deletes; entries on doomed devices are left to go with them. */
  private async applyEntries(work: PassWork, doomed: ReadonlySet<number>): Promise<void> {
    const { kernel } = this.options;
    const { neighbours, routes } = this.view;
    const neighbourBatch = (items: Array<[string, Neighbour]>, kind: 'replace' | 'delete') => applyBatch<Neighbour, Neighbour, NeighbourOp>({
      tracker: neighbours, items, run: (ops) => kernel.applyNeighbourOps(ops), toOp: (entry): NeighbourOp => ({ kind, entry }),
      after: (op) => (op.kind === 'replace' ? op.entry : undefined), isDelete: (op) => op.kind === 'delete',
      describe: (op) => `${op.kind} ${describeNeighbour(op.entry)}`,
    }, work.failures);
    const routeBatch = (items: Array<[string, Route]>, kind: 'replace' | 'delete') => applyBatch<Route, Route, RouteOp>({
      tracker: routes, items, run: (ops) => kernel.applyRouteOps(ops), toOp: (route): RouteOp => ({ kind, route }),
      after: (op) => (op.kind === 'replace' ? op.route : undefined), isDelete: (op) => op.kind === 'delete',
      describe: (op) => `${op.kind} route ${describeRoute(op.route)}`,
    }, work.failures);
    work.neighbours += await neighbourBatch(neighbours.pendingApplies(), 'replace');
    work.routes += await routeBatch(routes.pendingApplies(), 'replace');
    const failedBefore = work.failures.length;
    const deletes = await routeBatch(spared(routes.pendingDeletes(), doomed), 'delete');
    work.routes += deletes;
    work.removedRoutes += deletes - (work.failures.length - failedBefore);
    work.neighbours += await neighbourBatch(spared(neighbours.pendingDeletes(), doomed), 'delete');
    work.changed += work.neighbours + work.routes;
  }

  /** Deletes our devices nobody wants; their addresses, routes and neighbours go with them. */
  private async removeUnwantedDevices(work: PassWork): Promise<void> {
    const ops = this.view.devices.pendingDeletes().map(([name, link]): LinkOp & { kind: 'delete' } => ({ kind: 'delete', index: link.index, name }));
    if (ops.length === 0) return;
    const failed = await this.applyLinkOps(ops, work);
    const removed = ops.filter((op) => !failed.has(op));
    work.removedDevices.push(...removed.map((op) => op.name));
    work.removedRoutes += this.view.forgetLinks(new Set(removed.map((op) => op.index)));
    await this.readLinks();
  }

  /** Runs the planner; false (logged) when it threw. */
  private replan(): boolean {
    const { plan, logger } = this.options;
    try {
      this.desired = plan();
    } catch (error) {
      logger.error({ err: errorMessage(error) }, 'planning kernel state failed');
      return false;
    }
    this.desiredDirty = false;
    this.groupsChanged = true;
    const warnings = this.desired.warnings.join('\n');
    if (warnings !== this.lastWarnings) {
      for (const warning of this.desired.warnings) logger.warn(warning);
      this.lastWarnings = warnings;
    }
    this.view.setDesiredDevices(this.desired.devices);
    return true;
  }

  /**
   * Resolves device names in the desired entries. When a device's index changed (created, recreated, appeared)
   * the index is rebuilt and the trackers recompute everything; otherwise only the groups that changed are
   * indexed and only their keys compared.
   */
  private resolve(): DesiredIndex {
    const { devices, groups, addresses } = this.desired;
    const resolution = devices.map((device) => `${device.name}=${this.view.linkIndex(device.name)}`).join(',');
    const resolved = this.index !== undefined && resolution === this.resolution;
    if (!this.index || !resolved) {
      this.index = new DesiredIndex((name) => this.view.linkIndex(name));
      this.index.rebuild(groups);
      this.view.setDesiredEntries(this.index);
      this.resolution = resolution;
    } else if (this.groupsChanged) {
      const touched = this.index.update(groups);
      this.view.routes.desiredChanged(touched.routes);
      this.view.neighbours.desiredChanged(touched.neighbours);
    }
    if (this.groupsChanged || !resolved) {
      this.view.setDesiredAddresses(addresses.flatMap((entry): ResolvedAddress[] => {
        const linkIndex = this.view.linkIndex(entry.linkName);
        return linkIndex === undefined ? [] : [{ linkIndex, address: entry.address }];
      }));
    }
    this.groupsChanged = false;
    return this.index;
  }

  private async readAll(): Promise<void> {
    const { kernel } = this.options;
    this.view.replaceLinks(await kernel.listLinks(), await kernel.listAddresses());
    this.view.replaceNeighbours(await kernel.listNeighbours());
    this.view.replaceRoutes(await kernel.listRoutes());
  }

  /** Links and addresses again (after device or address changes); neighbours too when our devices changed. */
  private async readLinks(): Promise<void> {
    const { kernel } = this.options;
    if (this.view.replaceLinks(await kernel.listLinks(), await kernel.listAddresses())) this.view.replaceNeighbours(await kernel.listNeighbours());
  }

  /** Returns the ops that failed (recorded in `work`). */
  private async applyLinkOps(ops: readonly LinkOp[], work: PassWork): Promise<Set<LinkOp>> {
    const failed = new Set<LinkOp>();
    for (const failure of await this.options.kernel.applyLinkOps(ops)) {
      work.failures.push({ what: describeLinkOp(failure.op), error: failure.error });
      failed.add(failure.op);
    }
    work.changed += ops.length;
    return failed;
  }
}

/** Items not on a device about to be deleted (they go with it). */
function spared<T extends { linkIndex?: number }>(items: Array<[string, T]>, doomed: ReadonlySet<number>): Array<[string, T]> {
  return items.filter(([, entry]) => entry.linkIndex === undefined || !doomed.has(entry.linkIndex));
}

function nothing(fullRead: boolean): PassResult {
  return { changed: 0, routes: 0, neighbours: 0, failed: 0, desired: 0, fullRead, pending: 0, removedRoutes: 0, removedDevices: [], failures: [] };
}
