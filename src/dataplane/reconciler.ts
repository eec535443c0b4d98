/**
 * The Reconciler: the only writer to the kernel. Lease changes, kernel notifications and a resync timer all
 * ask for a pass; one loop coalesces them and runs observe → diff → apply. Drift is repaired by the same path
 * that adds peers.
 *
 * At scale (15,000 entries for 5,000 vxlan peers) a pass must not cost O(every entry) per lease event, so the
 * reconciler keeps what it last observed (updated with the operations it applied) and the desired entries by
 * key (a DesiredIndex over the planner's per-peer groups). A pass asked for by a lease change diffs only the
 * groups that changed against that cache. What the kernel reports as changed by someone else
 * (`markKernelChanged(kinds)`) is re-read and diffed in full for that kind only — links and addresses,
 * neighbours/FDB, or routes — so one deleted route at 5,000 peers does not re-read 15,000 entries. Everything is
 * re-read on the first pass, on every resync, when a device had to be (re)created, and before retrying failures.
 *
 * Failed operations are logged with their error and retried after a backoff (1 s doubling to 30 s). `run()`
 * returns once `signal` aborts and the pass in progress has finished; it never deletes kernel state on shutdown.
 */
import { errorMessage } from '../support/errors.js';
import type { Logger } from '../support/logger.js';
import { Backoff, sleep } from '../support/timing.js';
import type { DesiredState } from './desired-state.js';
import { DesiredIndex, type TouchedKeys } from './desired-index.js';
import {
  byNeighbourKey, byRouteKey, diffAddresses, diffDevices, diffNeighbourKeys, diffNeighbours, diffRouteKeys, diffRoutes,
} from './diff.js';
import { type Link, type Neighbour, type Route, describeNeighbour, describeRoute, neighbourKey, routeKey } from './kernel-objects.js';
import type { Kernel, NeighbourOp, OpFailure, RouteOp } from './kernel.js';

export interface ReconcilerOptions {
  readonly kernel: Kernel;
  /** Called on every pass; must be cheap and pure (backend planner over the current lease table). */
  readonly plan: () => DesiredState;
  readonly logger: Logger;
  readonly resyncIntervalMs?: number;
  /**
   * Called on every pass, once devices are handled, with the desired devices that are not in place (missing,
   * or not as wanted after this pass's attempt): the daemon is not ready while any are.
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
  /** Whether this pass re-read the kernel or used the cache. */
  readonly fullRead: boolean;
}

const NOTHING: PassResult = { changed: 0, routes: 0, neighbours: 0, failed: 0, desired: 0, fullRead: false };

/** The kinds of kernel state a pass can re-read on its own. */
export type KernelKind = 'links' | 'neighbours' | 'routes';
const ALL_KINDS: readonly KernelKind[] = ['links', 'neighbours', 'routes'];

/** What the reconciler last saw in the kernel, keyed like the diff keys it. */
interface Observed {
  links: Link[];
  neighbours: Map<string, Neighbour>;
  routes: Map<string, Route>;
}

export class Reconciler {
  private dirty = true;
  /** Kinds of kernel state to re-read on the next pass (all of them at first). */
  private stale = new Set<KernelKind>(ALL_KINDS);
  private wake: (() => void) | undefined;
  private readonly retryBackoff = new Backoff(1000, 30_000);
  private lastWarnings = '';
  private lastPass: PassResult | undefined;
  private observed: Observed | undefined;
  private index: DesiredIndex | undefined;
  /** Device name → index pairs the index was resolved with. */
  private indexSignature = '';
  private ownedLinkIndexes = new Set<number>();
  private readonly passListeners = new Set<(result: PassResult) => void>();

  constructor(private readonly options: ReconcilerOptions) {}

  /** Asks for a pass because the desired state changed; many calls before the pass starts cost one pass. */
  markDirty(): void {
    this.dirty = true;
    this.wake?.();
  }

  /** Asks for a pass that re-reads these kinds of kernel state (default: all): someone else changed them. */
  markKernelChanged(kinds: readonly KernelKind[] = ALL_KINDS): void {
    for (const kind of kinds) this.stale.add(kind);
    this.markDirty();
  }

  /** True when the device with this index is one the reconciler manages (as of its last pass). */
  ownsLink(index: number): boolean {
    return this.ownedLinkIndexes.has(index);
  }

  get lastResult(): PassResult | undefined {
    return this.lastPass;
  }

  /** Resolves after the next pass that ends with nothing left to do (no failures, nothing pending). */
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
        const retryDue = retryAtMs !== undefined && now >= retryAtMs;
        const resyncDue = now >= nextResyncMs;
        if (!this.dirty && !retryDue && !resyncDue) {
          await this.waitForWork(Math.min(retryAtMs ?? Infinity, nextResyncMs) - now, signal);
          continue;
        }
        if (retryDue || resyncDue) this.stale = new Set(ALL_KINDS);
        if (resyncDue) nextResyncMs = now + resyncMs;
        this.dirty = false;
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
    const started = performance.now();
    try {
      const result = await this.converge(desired);
      if (result.failed > 0) this.stale = new Set(ALL_KINDS);
      if (result.changed > 0 || result.failed > 0) logger.info(result, 'kernel state reconciled');
      if (logger.isLevelEnabled('debug')) {
        const { rss, heapUsed, heapTotal, external } = process.memoryUsage();
        const mb = (bytes: number) => Math.round(bytes / 1048576);
        logger.debug({ ms: Math.round(performance.now() - started), fullRead: result.fullRead, rssMb: mb(rss), heapUsedMb: mb(heapUsed), heapTotalMb: mb(heapTotal), externalMb: mb(external) }, 'reconcile pass');
      }
      return this.record(result);
    } catch (error) {
      this.stale = new Set(ALL_KINDS);
      logger.error({ err: errorMessage(error) }, 'reading kernel state failed');
      return this.record({ ...NOTHING, failed: 1 });
    }
  }

  /** Replaces the cached kinds in `stale` with what the kernel has now. */
  private async reread(observed: Observed, stale: ReadonlySet<KernelKind>): Promise<void> {
    const { kernel } = this.options;
    if (stale.has('links')) observed.links = await kernel.listLinks();
    if (stale.has('neighbours')) observed.neighbours = byNeighbourKey(await kernel.listNeighbours());
    if (stale.has('routes')) observed.routes = byRouteKey(await kernel.listRoutes());
  }

  /** observe → diff → apply, kind by kind: devices, addresses, neighbours/FDB, routes. */
  private async converge(desired: DesiredState): Promise<PassResult> {
    const { kernel, logger } = this.options;
    let stale = this.observed ? this.stale : new Set<KernelKind>(ALL_KINDS);
    this.stale = new Set();
    const observed = (this.observed ??= { links: [], neighbours: new Map(), routes: new Map() });
    await this.reread(observed, stale);
    const failures: Array<{ what: string; error: Error }> = [];
    const collect = <Op>(list: OpFailure<Op>[], describe: (op: Op) => string) => {
      for (const failure of list) failures.push({ what: describe(failure.op), error: failure.error });
    };
    let changed = 0;

    if (desired.devices.length > 0) {
      const devices = diffDevices(desired.devices, observed.links);
      for (const { name, differences } of devices.recreated) logger.warn({ device: name, differences }, 'device exists with incompatible settings; recreating it');
      if (devices.ops.length > 0) {
        collect(await kernel.applyLinkOps(devices.ops), (op) => `${op.kind} link ${op.kind === 'create' ? op.device.name : op.name}`);
        changed += devices.ops.length;
        // A new or recreated device: its index changed and the kernel dropped whatever was on the old one.
        stale = new Set(ALL_KINDS);
        await this.reread(observed, stale);
      }
    }
    if (this.options.onDeviceState) {
      const notInPlace = diffDevices(desired.devices, observed.links).ops.map((op) => (op.kind === 'create' ? op.device.name : op.name));
      this.options.onDeviceState([...new Set(notInPlace)]);
    }
    const indexByName = new Map(observed.links.map((link) => [link.name, link.index]));
    const owned = new Set(desired.devices.flatMap((device) => indexByName.get(device.name) ?? []));
    this.ownedLinkIndexes = owned;

    if (owned.size > 0 && stale.has('links')) {
      const addresses = desired.addresses.flatMap((entry) => {
        const linkIndex = indexByName.get(entry.linkName);
        return linkIndex === undefined ? [] : [{ linkIndex, address: entry.address }];
      });
      const addressOps = diffAddresses(addresses, await kernel.listAddresses(), owned);
      collect(await kernel.applyAddressOps(addressOps), (op) => `${op.kind} address ${op.address}`);
      changed += addressOps.length;
    }
    // The index holds entries resolved to device indexes: rebuild it when those indexes changed.
    const signature = desired.devices.map((device) => `${device.name}=${indexByName.get(device.name)}`).join(',');
    let touched: TouchedKeys | undefined;
    if (!this.index || signature !== this.indexSignature) {
      this.index = new DesiredIndex((name) => indexByName.get(name));
      this.index.rebuild(desired.groups);
      this.indexSignature = signature;
    } else {
      touched = this.index.update(desired.groups);
    }
    const fullNeighbours = !touched || stale.has('neighbours');
    const fullRoutes = !touched || stale.has('routes');
    const neighbourOps: NeighbourOp[] = owned.size === 0 ? []
      : fullNeighbours ? diffNeighbours(this.index.neighbours(), observed.neighbours, owned)
      : diffNeighbourKeys((touched as TouchedKeys).neighbours, (key) => (this.index as DesiredIndex).neighbour(key), observed.neighbours, owned);
    const routeOps: RouteOp[] = fullRoutes ? diffRoutes(this.index.routes(), observed.routes)
      : diffRouteKeys((touched as TouchedKeys).routes, (key) => (this.index as DesiredIndex).route(key), observed.routes);
    const index = this.index as DesiredIndex;
    const neighbourAdds = neighbourOps.filter((op) => op.kind === 'replace');
    collect(this.remember(await kernel.applyNeighbourOps(neighbourAdds), neighbourAdds, observed.neighbours, (op) => neighbourKey(op.entry), (op) => op.entry),
      (op) => `${op.kind} ${describeNeighbour(op.entry)}`);
    collect(this.remember(await kernel.applyRouteOps(routeOps), routeOps, observed.routes, (op) => routeKey(op.route), (op) => op.route),
      (op) => `${op.kind} route ${describeRoute(op.route)}`);
    // Neighbour and FDB deletions last: a peer's route goes before the entries it resolves through.
    const neighbourDeletes = neighbourOps.filter((op) => op.kind === 'delete');
    collect(this.remember(await kernel.applyNeighbourOps(neighbourDeletes), neighbourDeletes, observed.neighbours, (op) => neighbourKey(op.entry), (op) => op.entry),
      (op) => `${op.kind} ${describeNeighbour(op.entry)}`);
    changed += neighbourOps.length + routeOps.length;
    const unresolved = index.unresolved;

    for (const failure of failures.slice(0, 20)) logger.warn({ op: failure.what, err: failure.error.message }, 'kernel operation failed; will retry');
    if (failures.some((failure) => failure.what.startsWith('replace neigh') && (failure.error as { code?: string }).code === 'ENOBUFS')) {
      // Kernels before 4.20 count permanent neighbours against gc_thresh3 (default 1024); later ones exempt them.
      logger.error('neighbour table full: raise net.ipv4.neigh.default.gc_thresh3 (and net.ipv6.neigh.default.gc_thresh3) above the number of peers');
    }
    for (const name of unresolved) logger.warn({ device: name }, 'device missing; entries on it wait for it');
    return {
      changed, routes: routeOps.length, neighbours: neighbourOps.length, failed: failures.length + unresolved.size,
      desired: index.routeCount, fullRead: stale.size === ALL_KINDS.length,
    };
  }

  /** Applies successful replaces/deletes to the cache; returns the failures unchanged. */
  private remember<Op extends RouteOp | NeighbourOp, Entry>(
    failures: OpFailure<Op>[],
    ops: readonly Op[],
    cache: Map<string, Entry>,
    key: (op: Op) => string,
    entry: (op: Op) => Entry,
  ): OpFailure<Op>[] {
    const failed = new Set(failures.map((failure) => failure.op));
    for (const op of ops) {
      if (failed.has(op)) continue;
      if (op.kind === 'replace') cache.set(key(op), entry(op));
      else cache.delete(key(op));
    }
    return failures;
  }

  private record(result: PassResult): PassResult {
    this.lastPass = result;
    return result;
  }
}
