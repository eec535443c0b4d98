/**
 * The per-peer groups of a desired state, keyed (by lease key), that remember what changed: a consumer that
 * saw version v catches up with `changesSince(v)` in O(changes), instead of diffing every group (at 20,000
 * peers one lease event would otherwise walk 20,000 groups). Iterating gives the current groups.
 *
 * The change log is kept only back to the oldest version a consumer may still ask about: `changesSince(v)`
 * forgets everything up to v (there is one consumer, the reconciler's DesiredIndex), and a log grown past
 * the set's size is dropped, so a consumer that fell that far behind gets undefined and re-indexes in full.
 */
import type { DesiredGroup } from './desired-state.js';

export interface GroupChanges {
  /** Groups the consumer holds (as of that version) that went or were replaced: remove these first. */
  readonly removed: readonly DesiredGroup[];
  /** Groups to add after that, in the order they were set (one removed and set again is in both lists). */
  readonly added: readonly DesiredGroup[];
}

interface LogEntry {
  readonly removed?: DesiredGroup;
  readonly added?: DesiredGroup;
}

export class DesiredGroups implements Iterable<DesiredGroup> {
  private readonly byKey = new Map<string, DesiredGroup>();
  private log: LogEntry[] = [];
  /** The version log[0] leads to (the version before it is logStart). */
  private logStart = 0;

  /** Grows by one with every change. */
  get version(): number {
    return this.logStart + this.log.length;
  }

  get size(): number {
    return this.byKey.size;
  }

  get(key: string): DesiredGroup | undefined {
    return this.byKey.get(key);
  }

  /**
   * Sets (or with undefined removes) the group of `key`; setting the same object again is no change. A group
   * object belongs to one key (consumers index groups by identity).
   */
  set(key: string, group: DesiredGroup | undefined): void {
    const previous = this.byKey.get(key);
    if (previous === group) return;
    if (group === undefined) this.byKey.delete(key);
    else this.byKey.set(key, group);
    this.log.push({ ...(previous ? { removed: previous } : {}), ...(group ? { added: group } : {}) });
    if (this.log.length > Math.max(1024, 2 * this.byKey.size)) {
      this.logStart += this.log.length;
      this.log = [];
    }
  }

  /**
   * What changed after `version`, in order; undefined when that is older than the log (re-index in full).
   * Forgets the log up to `version`: the caller is the only consumer and will not ask about it again.
   */
  changesSince(version: number): GroupChanges | undefined {
    if (version < this.logStart || version > this.version) return undefined;
    this.log = this.log.slice(version - this.logStart);
    this.logStart = version;
    const removed: DesiredGroup[] = [];
    const added = new Set<DesiredGroup>();
    for (const entry of this.log) {
      // A group added and removed again inside the window never reached the consumer: nothing to remove.
      if (entry.removed && !added.delete(entry.removed)) removed.push(entry.removed);
      if (entry.added) added.add(entry.added);
    }
    return { removed, added: [...added] };
  }

  [Symbol.iterator](): Iterator<DesiredGroup> {
    return this.byKey.values();
  }
}
