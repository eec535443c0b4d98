/**
 * The desired routes and neighbour/FDB entries of the current plan, keyed like the kernel keys them, with the
 * device names resolved to indexes. Pure. `rebuild` indexes every group (a full pass); `update` takes the next
 * plan and indexes only the groups that are new, forgetting the ones that are gone, and returns the keys whose
 * desired entry may have changed — the only keys an incremental pass has to compare with the kernel.
 */
import type { DesiredGroup } from './desired-state.js';
import { type Neighbour, type Route, neighbourKey, routeKey } from './kernel-objects.js';

interface Slot<T> {
  entry: T;
  count: number;
}

export interface TouchedKeys {
  readonly routes: ReadonlySet<string>;
  readonly neighbours: ReadonlySet<string>;
}

export class DesiredIndex {
  private groups = new Map<DesiredGroup, { routes: Route[]; neighbours: Neighbour[] }>();
  private readonly routeSlots = new Map<string, Slot<Route>>();
  private readonly neighbourSlots = new Map<string, Slot<Neighbour>>();
  /** Device names that could not be resolved when their group was indexed. */
  readonly unresolved = new Set<string>();

  constructor(private readonly resolveLink: (name: string) => number | undefined) {}

  rebuild(groups: readonly DesiredGroup[]): void {
    this.groups.clear();
    this.routeSlots.clear();
    this.neighbourSlots.clear();
    this.unresolved.clear();
    for (const group of groups) this.add(group, new Set(), new Set());
  }

  update(groups: readonly DesiredGroup[]): TouchedKeys {
    const routes = new Set<string>();
    const neighbours = new Set<string>();
    const next = new Set(groups);
    for (const [group, resolved] of this.groups) {
      if (next.has(group)) continue;
      this.groups.delete(group);
      for (const route of resolved.routes) release(this.routeSlots, routeKey(route), routes);
      for (const entry of resolved.neighbours) release(this.neighbourSlots, neighbourKey(entry), neighbours);
    }
    for (const group of groups) if (!this.groups.has(group)) this.add(group, routes, neighbours);
    return { routes, neighbours };
  }

  route(key: string): Route | undefined {
    return this.routeSlots.get(key)?.entry;
  }

  neighbour(key: string): Neighbour | undefined {
    return this.neighbourSlots.get(key)?.entry;
  }

  routes(): Route[] {
    return [...this.routeSlots.values()].map((slot) => slot.entry);
  }

  neighbours(): Neighbour[] {
    return [...this.neighbourSlots.values()].map((slot) => slot.entry);
  }

  get routeCount(): number {
    return this.routeSlots.size;
  }

  private add(group: DesiredGroup, routeKeys: Set<string>, neighbourKeys: Set<string>): void {
    const resolved = { routes: group.routes.flatMap((route) => this.resolve(route)), neighbours: group.neighbours.flatMap((entry) => this.resolve(entry)) };
    this.groups.set(group, resolved);
    for (const route of resolved.routes) claim(this.routeSlots, routeKey(route), route, routeKeys);
    for (const entry of resolved.neighbours) claim(this.neighbourSlots, neighbourKey(entry), entry, neighbourKeys);
  }

  private resolve<T extends { linkName?: string; linkIndex?: number }>(entry: T): T[] {
    if (entry.linkName === undefined) return [entry];
    const linkIndex = this.resolveLink(entry.linkName);
    if (linkIndex === undefined) {
      this.unresolved.add(entry.linkName);
      return [];
    }
    return [{ ...entry, linkIndex }];
  }
}

/** The newest claim wins the slot (a peer whose lease changed replaces its old entry before the old is released). */
function claim<T>(slots: Map<string, Slot<T>>, key: string, entry: T, touched: Set<string>): void {
  const slot = slots.get(key);
  if (slot) {
    slot.entry = entry;
    slot.count++;
  } else {
    slots.set(key, { entry, count: 1 });
  }
  touched.add(key);
}

function release<T>(slots: Map<string, Slot<T>>, key: string, touched: Set<string>): void {
  const slot = slots.get(key);
  if (!slot) return;
  if (--slot.count === 0) slots.delete(key);
  touched.add(key);
}
