/**
 * The desired routes and neighbour/FDB entries of the current plan, keyed like the kernel keys them, with the
 * device names resolved to indexes. Pure. `rebuild` indexes every group (a full pass); `update` takes the next
 * plan and indexes only the groups that are new, forgetting the ones that are gone, and returns the keys whose
 * desired entry may have changed — the only keys an incremental pass has to compare with the kernel. Given the
 * same DesiredGroups again, it asks it what changed instead of comparing every group: O(changed peers).
 *
 * Two groups may claim one key (a peer whose lease changed: old and new group, briefly; or two leases that
 * collide). A slot keeps every claim in the order the groups were indexed and holds the newest one's entry;
 * when a claimant leaves, the slot falls back to the newest remaining claim, so the kernel gets the survivor's
 * entry back instead of keeping the departed group's.
 *
 * `routeSource` and `neighbourSource` are the desired sides of the reconciler's route and neighbour trackers.
 */
import type { DesiredSource } from './delta-tracker.js';
import { DesiredGroups } from './desired-groups.js';
import type { DesiredGroup } from './desired-state.js';
import { type Neighbour, type Route, neighbourKey, routeKey } from './kernel-objects.js';

interface Claim<T> {
  readonly group: DesiredGroup;
  readonly entry: T;
}

/**
 * The claims on one key: almost always exactly one, kept as the bare claim (no array per entry: 15,000 of them
 * at 5,000 vxlan peers); several as an array, oldest first, the last one being the desired entry.
 */
type Slot<T> = Claim<T> | Array<Claim<T>>;

export interface TouchedKeys {
  readonly routes: ReadonlySet<string>;
  readonly neighbours: ReadonlySet<string>;
}

export class DesiredIndex {
  private groups = new Map<DesiredGroup, { routes: Route[]; neighbours: Neighbour[] }>();
  private source: DesiredGroups | undefined;
  private sourceVersion = 0;
  private readonly routeSlots = new Map<string, Slot<Route>>();
  private readonly neighbourSlots = new Map<string, Slot<Neighbour>>();
  /** Device names that could not be resolved when their group was indexed. */
  readonly unresolved = new Set<string>();
  readonly routeSource: DesiredSource<Route> = sourceOf(this.routeSlots);
  readonly neighbourSource: DesiredSource<Neighbour> = sourceOf(this.neighbourSlots);

  constructor(private readonly resolveLink: (name: string) => number | undefined) {}

  rebuild(groups: Iterable<DesiredGroup>): void {
    this.groups.clear();
    this.routeSlots.clear();
    this.neighbourSlots.clear();
    this.unresolved.clear();
    for (const group of groups) this.add(group, new Set(), new Set());
    this.follow(groups);
  }

  /**
   * Takes the next plan's groups. From a DesiredGroups this index was built from, only what changed since is
   * indexed (O(changed groups)); from anything else, groups are diffed by identity (O(every group)).
   */
  update(groups: Iterable<DesiredGroup>): TouchedKeys {
    const routes = new Set<string>();
    const neighbours = new Set<string>();
    const changes = groups instanceof DesiredGroups && groups === this.source ? groups.changesSince(this.sourceVersion) : undefined;
    if (changes) {
      for (const group of changes.removed) this.remove(group, routes, neighbours);
      for (const group of changes.added) if (!this.groups.has(group)) this.add(group, routes, neighbours);
    } else {
      const next = new Set(groups);
      for (const group of this.groups.keys()) if (!next.has(group)) this.remove(group, routes, neighbours);
      for (const group of next) if (!this.groups.has(group)) this.add(group, routes, neighbours);
    }
    this.follow(groups);
    return { routes, neighbours };
  }

  route(key: string): Route | undefined {
    return current(this.routeSlots.get(key));
  }

  neighbour(key: string): Neighbour | undefined {
    return current(this.neighbourSlots.get(key));
  }

  routes(): Route[] {
    return [...this.routeSlots.values()].map((slot) => current(slot) as Route);
  }

  neighbours(): Neighbour[] {
    return [...this.neighbourSlots.values()].map((slot) => current(slot) as Neighbour);
  }

  get routeCount(): number {
    return this.routeSlots.size;
  }

  /** Remembers the DesiredGroups (and its version) this index now reflects, to catch up from it next time. */
  private follow(groups: Iterable<DesiredGroup>): void {
    this.source = groups instanceof DesiredGroups ? groups : undefined;
    this.sourceVersion = this.source?.version ?? 0;
  }

  private remove(group: DesiredGroup, routeKeys: Set<string>, neighbourKeys: Set<string>): void {
    const resolved = this.groups.get(group);
    if (!resolved) return;
    this.groups.delete(group);
    for (const route of resolved.routes) release(this.routeSlots, routeKey(route), group, routeKeys);
    for (const entry of resolved.neighbours) release(this.neighbourSlots, neighbourKey(entry), group, neighbourKeys);
  }

  private add(group: DesiredGroup, routeKeys: Set<string>, neighbourKeys: Set<string>): void {
    const resolved = { routes: group.routes.flatMap((route) => this.resolve(route)), neighbours: group.neighbours.flatMap((entry) => this.resolve(entry)) };
    this.groups.set(group, resolved);
    for (const route of resolved.routes) claim(this.routeSlots, routeKey(route), group, route, routeKeys);
    for (const entry of resolved.neighbours) claim(this.neighbourSlots, neighbourKey(entry), group, entry, neighbourKeys);
  }

  private resolve<T extends { linkName?: string; linkIndex?: number }>(entry: T): T[] {
    if (entry.linkName === undefined) return [entry];
    const linkIndex = this.resolveLink(entry.linkName);
    if (linkIndex === undefined) {
      this.unresolved.add(entry.linkName);
      return [];
    }
    // Object.assign, not `{ ...entry, linkIndex }`: a literal starting with a spread gets a hidden class per object.
    return [Object.assign({}, entry, { linkIndex })];
  }
}

function sourceOf<T>(slots: Map<string, Slot<T>>): DesiredSource<T> {
  return {
    get: (key) => current(slots.get(key)),
    keys: () => slots.keys(),
    get size() {
      return slots.size;
    },
  };
}

function current<T>(slot: Slot<T> | undefined): T | undefined {
  return Array.isArray(slot) ? slot[slot.length - 1]?.entry : slot?.entry;
}

/** The newest claim wins the slot (a peer whose lease changed replaces its old entry before the old is released). */
function claim<T>(slots: Map<string, Slot<T>>, key: string, group: DesiredGroup, entry: T, touched: Set<string>): void {
  const slot = slots.get(key);
  if (slot === undefined) slots.set(key, { group, entry });
  else if (Array.isArray(slot)) slot.push({ group, entry });
  else slots.set(key, [slot, { group, entry }]);
  touched.add(key);
}

/** Drops the group's newest claim on the key; the slot then holds the newest remaining claim, if any. */
function release<T>(slots: Map<string, Slot<T>>, key: string, group: DesiredGroup, touched: Set<string>): void {
  const slot = slots.get(key);
  if (slot === undefined) return;
  if (!Array.isArray(slot)) {
    if (slot.group !== group) return;
    slots.delete(key);
  } else {
    let at = slot.length - 1;
    while (at >= 0 && slot[at]?.group !== group) at--;
    if (at < 0) return;
    slot.splice(at, 1);
    if (slot.length === 1) slots.set(key, slot[0] as Claim<T>);
  }
  touched.add(key);
}
