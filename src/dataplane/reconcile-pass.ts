/**
 * One reconcile pass over the KernelView (one desired-vs-dataplane tracker per kind of object): plan (when asked)
 * → re-read (when asked) → devices: create/recreate/fix in place, wait for the ones a data path creates →
 * resolve device names in the desired entries → addresses → neighbour/FDB adds → route replaces and deletes →
 * neighbour/FDB deletes (a route goes before the entries it resolves through) → deletion of our devices nobody
 * wants (their addresses and entries go with them). What may be deleted is the Ownership's decision
 * (ownership.ts); the Reconciler decides when a pass runs (reconciler.ts).
 *
 * Everything a pass does comes from the trackers' pending work, whether a full re-read, a lease change (only
 * the per-peer groups that changed are re-indexed, only their keys compared) or a notification (one object)
 * put it there: full and incremental reconciles are one code path.
 */
import type { KernelObjectKind, ObjectCount, ObjectCounts } from '../metrics/flannel-metrics.js';
import { errorMessage } from '../support/errors.js';
import { type FailedOp, applyBatch } from './apply-batch.js';
import { DesiredIndex } from './desired-index.js';
import { type DesiredState, EMPTY_DESIRED_STATE } from './desired-state.js';
import { describeLinkOp, deviceWork } from './device-work.js';
import { createdByReconciler } from './devices.js';
import { type Address, type Neighbour, type Route, describeNeighbour, describeRoute } from './kernel-objects.js';
import { KernelView, type ResolvedAddress } from './kernel-view.js';
import type { AddressOp, LinkOp, NeighbourOp, RouteOp } from './kernel.js';
import type { ReconcilerOptions } from './reconciler.js';

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
  /** Kernel writes attempted, by kind of object (for metrics: one call per pass, not per entry). */
  readonly writes: Partial<Record<KernelObjectKind, number>>;
  /** Of those, the ones the kernel refused. */
  readonly writeFailures: Partial<Record<KernelObjectKind, number>>;
}

/** Told how many objects of ours a full re-read found changed or gone without a notification having said so. */
export type DriftSink = (kind: KernelObjectKind, count: number) => void;

/** What a pass did so far. */
interface PassWork {
  readonly failures: FailedOp[];
  changed: number;
  routes: number;
  neighbours: number;
  removedRoutes: number;
  readonly removedDevices: string[];
  readonly writes: Partial<Record<KernelObjectKind, number>>;
  readonly writeFailures: Partial<Record<KernelObjectKind, number>>;
}

export class ReconcilePass {
  readonly view: KernelView;
  private desired: DesiredState = EMPTY_DESIRED_STATE;
  private index: DesiredIndex | undefined;
  /** `name=index` of the devices the index was resolved with. */
  private resolution = '';
  private groupsChanged = true;
  private lastWarnings = '';
  private lastWaiting = '';
  private fullReads = 0;

  constructor(
    private readonly options: ReconcilerOptions,
    private readonly onDrift: DriftSink = () => undefined,
  ) {
    this.view = new KernelView(options.ownership);
  }

  /** The plan the last pass applied (the devices and per-peer groups `flannelctl status` compares with the kernel). */
  get desiredState(): DesiredState {
    return this.desired;
  }

  /**
   * Per kind, the objects the plan wants (resolved against existing devices) and how many of those the view
   * holds as wanted. O(desired neighbours) for the neigh/fdb split: read at scrape time, never per pass.
   */
  objectCounts(): ObjectCounts {
    const { devices, addresses, routes, neighbours } = this.view;
    const inPlace = (desired: number, pending: number): ObjectCount => ({ desired, programmed: Math.max(0, desired - pending) });
    const split = { neigh: 0, fdb: 0 };
    for (const key of this.index?.neighbourSource.keys() ?? []) split[key.startsWith('fdb|') ? 'fdb' : 'neigh']++;
    const pendingSplit = { neigh: 0, fdb: 0 };
    for (const [, entry] of neighbours.pendingApplies()) pendingSplit[entry.kind]++;
    return {
      link: inPlace(this.desired.devices.length, devices.pendingApplies().length),
      address: inPlace(addresses.desiredSize, addresses.pendingApplies().length),
      route: inPlace(routes.desiredSize, routes.pendingApplies().length),
      neigh: inPlace(split.neigh, pendingSplit.neigh),
      fdb: inPlace(split.fdb, pendingSplit.fdb),
    };
  }

  /**
   * One pass: re-plans first when `replan` (false when the planner threw: nothing else is done), re-reads the
   * kernel when `reread`, then applies whatever the trackers hold pending. Throws when the kernel cannot be read.
   */
  async run(replan: boolean, reread: boolean): Promise<{ readonly result: PassResult; readonly planned: boolean }> {
    if (replan && !this.replan()) return { result: { ...nothing(false), failed: 1, failures: ['planning kernel state failed'] }, planned: false };
    return { result: await this.apply(reread), planned: true };
  }

  private async apply(fullRead: boolean): Promise<PassResult> {
    const { logger } = this.options;
    if (fullRead) await this.readAllCountingDrift();
    const work: PassWork = { failures: [], changed: 0, routes: 0, neighbours: 0, removedRoutes: 0, removedDevices: [], writes: {}, writeFailures: {} };
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
      writes: work.writes, writeFailures: work.writeFailures,
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
    const failedBefore = work.failures.length;
    const count = (await batch(tracker.pendingApplies(), 'add')) + (await batch(spared(tracker.pendingDeletes(), doomed), 'delete'));
    work.changed += count;
    tally(work, 'address', count, work.failures.length - failedBefore);
    // Device ownership depends on addresses: read them back rather than mirror the kernel's bookkeeping.
    if (count > 0) await this.readLinks();
  }

  /** Neighbour/FDB adds, route replaces and deletes, neighbour/FDB deletes; entries on doomed devices are left to go with them. */
  private async applyEntries(work: PassWork, doomed: ReadonlySet<number>): Promise<void> {
    const { kernel } = this.options;
    const { neighbours, routes } = this.view;
    const neighbourBatch = async (items: Array<[string, Neighbour]>, kind: 'replace' | 'delete') => {
      const failedBefore = work.failures.length;
      const count = await applyBatch<Neighbour, Neighbour, NeighbourOp>({
        tracker: neighbours, items, run: (ops) => kernel.applyNeighbourOps(ops), toOp: (entry): NeighbourOp => ({ kind, entry }),
        after: (op) => (op.kind === 'replace' ? op.entry : undefined), isDelete: (op) => op.kind === 'delete',
        describe: (op) => `${op.kind} ${describeNeighbour(op.entry)}`,
      }, work.failures);
      tallyNeighbours(work, items, work.failures.slice(failedBefore));
      return count;
    };
    const routeBatch = async (items: Array<[string, Route]>, kind: 'replace' | 'delete') => {
      const failedBefore = work.failures.length;
      const count = await applyBatch<Route, Route, RouteOp>({
        tracker: routes, items, run: (ops) => kernel.applyRouteOps(ops), toOp: (route): RouteOp => ({ kind, route }),
        after: (op) => (op.kind === 'replace' ? op.route : undefined), isDelete: (op) => op.kind === 'delete',
        describe: (op) => `${op.kind} route ${describeRoute(op.route)}`,
      }, work.failures);
      tally(work, 'route', count, work.failures.length - failedBefore);
      return count;
    };
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
      const present = new Map(devices.flatMap((device) => {
        const index = this.view.linkIndex(device.name);
        return index === undefined ? [] : [[device.name, index] as const];
      }));
      this.options.onDevicesPresent?.(present);
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

  /**
   * A full re-read; after the first one, the objects it shows changed or gone that were in place before (no
   * notification said so: lost notifications, or what the kernel flushes silently) are drift.
   */
  private async readAllCountingDrift(): Promise<void> {
    const trackers = this.fullReads++ === 0 ? [] : [
      { kind: 'link' as const, tracker: this.view.devices }, { kind: 'address' as const, tracker: this.view.addresses },
      { kind: 'route' as const, tracker: this.view.routes }, { kind: 'neigh' as const, tracker: this.view.neighbours },
    ];
    const before = trackers.map(({ tracker }) => new Set(tracker.pendingApplies().map(([key]) => key)));
    await this.readAll();
    trackers.forEach(({ kind, tracker }, position) => {
      const counts = new Map<KernelObjectKind, number>();
      for (const [key, entry] of tracker.pendingApplies()) {
        if (before[position]?.has(key)) continue;
        const entryKind = kind === 'neigh' ? (entry as Neighbour).kind : kind;
        counts.set(entryKind, (counts.get(entryKind) ?? 0) + 1);
      }
      for (const [entryKind, count] of counts) this.onDrift(entryKind, count);
    });
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
    tally(work, 'link', ops.length, failed.size);
    return failed;
  }
}

/** Adds a batch's writes and failures to the pass's per-kind counts. */
function tally(work: PassWork, kind: KernelObjectKind, attempted: number, failed: number): void {
  if (attempted > 0) work.writes[kind] = (work.writes[kind] ?? 0) + attempted;
  if (failed > 0) work.writeFailures[kind] = (work.writeFailures[kind] ?? 0) + failed;
}

/**
 * A neighbour batch mixes neighbours and FDB entries: writes split by the entries' kind, failures by the kind
 * their description names (`replace fdb …`, written by this module's describe).
 */
function tallyNeighbours(work: PassWork, items: ReadonlyArray<readonly [string, Neighbour]>, failures: readonly FailedOp[]): void {
  for (const [, entry] of items) tally(work, entry.kind, 1, 0);
  for (const failure of failures) tally(work, /^\S+ fdb /.test(failure.what) ? 'fdb' : 'neigh', 0, 1);
}

/** Items not on a device about to be deleted (they go with it). */
function spared<T extends { linkIndex?: number }>(items: Array<[string, T]>, doomed: ReadonlySet<number>): Array<[string, T]> {
  return items.filter(([, entry]) => entry.linkIndex === undefined || !doomed.has(entry.linkIndex));
}

/** A pass that did nothing. */
export function nothing(fullRead: boolean): PassResult {
  return { changed: 0, routes: 0, neighbours: 0, failed: 0, desired: 0, fullRead, pending: 0, removedRoutes: 0, removedDevices: [], failures: [], writes: {}, writeFailures: {} };
}
