/**
 * Desired vs dataplane for one kind of kernel object (after Calico felix's deltatracker). Pure, no I/O.
 *
 * The tracker holds the dataplane side (what the kernel has, as far as we know) and reads the desired side
 * from a DesiredSource. It keeps, at all times, the two sets of work that make the kernel match:
 * - pending applies: keys whose desired object the kernel does not have, or has in a form that does not
 *   satisfy it (a replace/create fixes it);
 * - pending deletes: keys the kernel has, that are ours (TrackerRules.ours), and that nobody desires.
 * Every change is O(keys changed): a lease change marks the keys its groups touched (`desiredChanged`), a kernel
 * notification or a successful write sets one key (`observe`). A full resync is the same thing for every key:
 * `replaceObserved` swaps in a fresh listing and recomputes the sets, so full and incremental reconciles are
 * one code path and cannot disagree.
 *
 * The dataplane side keeps only objects that matter: ours, or held at a key we desire (an irrelevant foreign
 * object at a key nobody desires is not stored, which keeps busy hosts' neighbour tables out of memory; should
 * the key become desired later, the kernel is asked to replace whatever is there, which is what would happen
 * anyway). When `ours` or the desired source changes wholesale, `refreshAll` recomputes everything.
 */

export interface TrackerRules<Desired, Observed> {
  /** Identity in the kernel: two objects with one key cannot both exist. */
  readonly keyOf: (entry: Desired | Observed) => string;
  /** True when the kernel's object already is what we want (fields the kernel adds are not compared). */
  readonly satisfies: (observed: Observed, desired: Desired) => boolean;
  /** True when we may delete this object if nobody desires it (see ownership.ts). */
  readonly ours: (observed: Observed) => boolean;
}

/** The desired objects of one kind, by key (a DesiredIndex view, or a plain Map). */
export interface DesiredSource<Desired> {
  get(key: string): Desired | undefined;
  keys(): Iterable<string>;
  readonly size: number;
}

export class DeltaTracker<Desired, Observed> {
  private readonly observed = new Map<string, Observed>();
  private readonly applies = new Set<string>();
  private readonly deletes = new Set<string>();

  constructor(
    private readonly rules: TrackerRules<Desired, Observed>,
    private desired: DesiredSource<Desired>,
  ) {}

  /** The desired objects of these keys may have changed. */
  desiredChanged(keys: Iterable<string>): void {
    for (const key of keys) this.refresh(key);
  }

  /** A new desired source (e.g. resolved against new device indexes): everything is recomputed. */
  replaceDesired(source: DesiredSource<Desired>): void {
    this.desired = source;
    this.refreshAll();
  }

  /** The kernel now holds `entry` at `key`, or nothing (a notification, or a write that succeeded). */
  observe(key: string, entry: Observed | undefined): void {
    if (entry !== undefined && (this.rules.ours(entry) || this.desired.get(key) !== undefined)) this.observed.set(key, entry);
    else this.observed.delete(key);
    this.refresh(key);
  }

  /** A full listing of this kind: the dataplane side becomes exactly it. */
  replaceObserved(entries: Iterable<Observed>): void {
    this.observed.clear();
    for (const entry of entries) {
      const key = this.rules.keyOf(entry);
      if (this.rules.ours(entry) || this.desired.get(key) !== undefined) this.observed.set(key, entry);
    }
    this.refreshAll();
  }

  /**
   * Drops observed objects the kernel removed without telling (e.g. with a deleted device); returns them. The
   * keys become pending again where desired.
   */
  forget(match: (entry: Observed) => boolean): Observed[] {
    const dropped: Observed[] = [];
    for (const [key, entry] of this.observed) {
      if (!match(entry)) continue;
      this.observed.delete(key);
      this.refresh(key);
      dropped.push(entry);
    }
    return dropped;
  }

  /** Recomputes both work sets from scratch (after `ours` changed meaning, or a new desired source). */
  refreshAll(): void {
    this.applies.clear();
    this.deletes.clear();
    for (const key of this.desired.keys()) this.refresh(key);
    for (const key of this.observed.keys()) this.refresh(key);
  }

  /** Desired objects the kernel lacks or holds differently (a snapshot: applying them changes the sets). */
  pendingApplies(): Array<[string, Desired]> {
    const pending: Array<[string, Desired]> = [];
    for (const key of this.applies) {
      const entry = this.desired.get(key);
      if (entry !== undefined) pending.push([key, entry]);
    }
    return pending;
  }

  /** Our objects nobody desires (a snapshot). */
  pendingDeletes(): Array<[string, Observed]> {
    const pending: Array<[string, Observed]> = [];
    for (const key of this.deletes) {
      const entry = this.observed.get(key);
      if (entry !== undefined) pending.push([key, entry]);
    }
    return pending;
  }

  get pendingCount(): number {
    return this.applies.size + this.deletes.size;
  }

  isPendingApply(key: string): boolean {
    return this.applies.has(key);
  }

  /** What the kernel holds at `key`, as far as the tracker knows. */
  get(key: string): Observed | undefined {
    return this.observed.get(key);
  }

  /** Every object the tracker keeps (ours, or at a desired key). */
  values(): IterableIterator<Observed> {
    return this.observed.values();
  }

  get desiredSize(): number {
    return this.desired.size;
  }

  private refresh(key: string): void {
    const want = this.desired.get(key);
    const have = this.observed.get(key);
    if (want !== undefined && (have === undefined || !this.rules.satisfies(have, want))) this.applies.add(key);
    else this.applies.delete(key);
    if (want === undefined && have !== undefined) {
      if (this.rules.ours(have)) this.deletes.add(key);
      else this.observed.delete(key); // a foreign object at a key nobody desires any more: not ours to keep
    } else {
      this.deletes.delete(key);
    }
  }
}
