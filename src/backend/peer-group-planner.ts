/**
 * Incremental per-peer planning: a backend that plans each peer on its own (PeerPlanning) gets its desired
 * groups kept up to date from lease changes in O(changed peers), in a DesiredGroups the reconciler catches up
 * from, instead of re-planning every peer per event. The full plan (`planPeers`) is the same code run from
 * empty, so the two cannot disagree.
 *
 * The one thing across peers is exclusive keys (vxlan: a VTEP MAC on a device; two peers may not share an FDB
 * entry). The peer admitted first wins, exactly as a walk over the peers in admission order would decide:
 * a later claimant is skipped (with the backend's warning) until the holder leaves or changes; a peer that was
 * admitted earlier than the holder (it was skipped for another key that has since been freed) takes the key
 * back and the holder is checked again. Pure.
 */
import { DesiredGroups } from '../dataplane/desired-groups.js';
import type { DesiredGroup, DesiredState } from '../dataplane/desired-state.js';
import type { Lease } from '../lease/lease.js';

/** One peer's entries, with what the planner needs across peers. */
export interface PeerPlan extends DesiredGroup {
  readonly warnings: readonly string[];
  /** Keys only one peer may hold at a time. */
  readonly exclusive: readonly string[];
}

/** What a backend that plans peer by peer provides (see Backend.peerPlanning). */
export interface PeerPlanning {
  /** Devices and addresses for our own lease. */
  base(own: Lease): Pick<DesiredState, 'devices' | 'addresses'>;
  /** One peer's plan: the same object for the same lease object (memoized), so unchanged peers cost nothing. */
  planPeer(peer: Lease): PeerPlan;
  /** The warning for `skipped`, which wants an exclusive key `holder` holds. */
  clash(holder: Lease, skipped: Lease): string;
}

interface Peer {
  readonly lease: Lease;
  readonly plan: PeerPlan;
  /** Admission order: lower was admitted first. */
  readonly order: number;
}

export class PeerGroupPlanner {
  private readonly peers = new Map<string, Peer>();
  private readonly holders = new Map<string, string>();
  /** Holder key → keys skipped because of it (checked again when it leaves or changes). */
  private readonly blocking = new Map<string, Set<string>>();
  private readonly blockedBy = new Map<string, string>();
  /** Skipped peer → the exclusive keys it wants, and exclusive key → skipped peers that want it. */
  private readonly wants = new Map<string, readonly string[]>();
  private readonly wanting = new Map<string, Set<string>>();
  /** Only peers with warnings (their own, or being skipped). */
  private readonly warningsOf = new Map<string, readonly string[]>();
  private admissions = 0;

  /** `groups` receives one group per planned peer, by peer key (other keys in it are left alone). */
  constructor(private readonly planning: PeerPlanning, readonly groups: DesiredGroups = new DesiredGroups()) {}

  /**
   * Applies changed peers (a lease: added or replaced, moved last in admission order; undefined: gone), by key.
   * Every peer is planned before anything changes: when `planPeer` throws, the planner is as it was.
   */
  update(changes: Iterable<readonly [string, Lease | undefined]>): void {
    const planned: Array<readonly [string, { lease: Lease; plan: PeerPlan } | undefined]> = [];
    /** Each key's lease as of the changes so far (a key may change twice in one batch). */
    const latest = new Map<string, Lease | undefined>();
    for (const [key, lease] of changes) {
      if ((latest.has(key) ? latest.get(key) : this.peers.get(key)?.lease) === lease) continue;
      latest.set(key, lease);
      planned.push([key, lease && { lease, plan: this.planning.planPeer(lease) }]);
    }
    const queue = new EvaluationQueue((key) => this.peers.get(key)?.order ?? -1);
    for (const [key, peer] of planned) {
      for (const freed of this.detach(key)) queue.add(freed);
      this.peers.delete(key);
      if (peer) this.peers.set(key, { lease: peer.lease, plan: peer.plan, order: this.admissions++ });
      queue.add(key);
    }
    // Earliest-admitted first, as a walk in admission order would decide; evaluating may queue more.
    for (let key = queue.next(); key !== undefined; key = queue.next()) {
      for (const again of this.evaluate(key)) queue.add(again);
    }
  }

  /** Warnings of the peers planned (O(peers with warnings)). */
  warnings(): string[] {
    return [...this.warningsOf.values()].flat();
  }

  /** Plans or skips one peer (already detached); returns keys to check again (holders it took keys from). */
  private evaluate(key: string): string[] {
    const peer = this.peers.get(key);
    // A peer skipped before is checked again here: its old clash warning goes whatever the outcome.
    this.warningsOf.delete(key);
    if (!peer) return [];
    const holders = new Set<string>();
    for (const exclusive of peer.plan.exclusive) {
      const holder = this.holders.get(exclusive);
      if (holder !== undefined && holder !== key) holders.add(holder);
    }
    const earlier = [...holders].map((holder) => this.peers.get(holder) as Peer).filter((holder) => holder.order < peer.order);
    if (earlier.length > 0) {
      const winner = earlier.reduce((a, b) => (a.order < b.order ? a : b));
      this.block(key, [...holders].find((holder) => this.peers.get(holder) === winner) as string, peer.plan.exclusive);
      this.warningsOf.set(key, [...peer.plan.warnings, this.planning.clash(winner.lease, peer.lease)]);
      return [];
    }
    const again: string[] = [];
    for (const holder of holders) again.push(...this.detach(holder), holder);
    for (const exclusive of peer.plan.exclusive) {
      this.holders.set(exclusive, key);
      // A peer skipped for a later holder than this one is skipped for this one now (the walk names the earliest).
      for (const waiting of [...(this.wanting.get(exclusive) ?? [])]) {
        const blocker = this.blockedBy.get(waiting);
        if (blocker !== undefined && (this.peers.get(blocker)?.order ?? -1) > peer.order) again.push(waiting), this.unblock(waiting);
      }
    }
    if (peer.plan.warnings.length > 0) this.warningsOf.set(key, peer.plan.warnings);
    if (peer.plan.routes.length + peer.plan.neighbours.length > 0) this.groups.set(key, peer.plan);
    return again;
  }

  /** Takes a peer's group and keys out; returns the keys it was blocking. */
  private detach(key: string): string[] {
    const peer = this.peers.get(key);
    if (peer) for (const exclusive of peer.plan.exclusive) if (this.holders.get(exclusive) === key) this.holders.delete(exclusive);
    this.groups.set(key, undefined);
    this.warningsOf.delete(key);
    this.unblock(key);
    const blocked = [...(this.blocking.get(key) ?? [])];
    for (const other of blocked) this.unblock(other);
    return blocked;
  }

  private block(key: string, blocker: string, wants: readonly string[]): void {
    this.blockedBy.set(key, blocker);
    this.wants.set(key, wants);
    const set = this.blocking.get(blocker);
    if (set) set.add(key);
    else this.blocking.set(blocker, new Set([key]));
    for (const exclusive of wants) {
      const waiting = this.wanting.get(exclusive);
      if (waiting) waiting.add(key);
      else this.wanting.set(exclusive, new Set([key]));
    }
  }

  private unblock(key: string): void {
    const blocker = this.blockedBy.get(key);
    if (blocker === undefined) return;
    this.blockedBy.delete(key);
    const set = this.blocking.get(blocker);
    set?.delete(key);
    if (set?.size === 0) this.blocking.delete(blocker);
    for (const exclusive of this.wants.get(key) ?? []) {
      const waiting = this.wanting.get(exclusive);
      waiting?.delete(key);
      if (waiting?.size === 0) this.wanting.delete(exclusive);
    }
    this.wants.delete(key);
  }
}

/**
 * Keys to evaluate, taken in admission order (gone peers first). Filled mostly in order (new peers are admitted
 * in order), so it is sorted once when first taken from and later additions are inserted in place.
 */
class EvaluationQueue {
  private keys: string[] = [];
  private readonly queued = new Set<string>();
  private at = 0;
  private sorted = false;

  constructor(private readonly orderOf: (key: string) => number) {}

  add(key: string): void {
    if (this.queued.has(key)) return;
    this.queued.add(key);
    if (!this.sorted) {
      this.keys.push(key);
      return;
    }
    const order = this.orderOf(key);
    let low = this.at;
    let high = this.keys.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (this.orderOf(this.keys[middle] as string) <= order) low = middle + 1;
      else high = middle;
    }
    this.keys.splice(low, 0, key);
  }

  next(): string | undefined {
    if (!this.sorted) {
      this.keys.sort((a, b) => this.orderOf(a) - this.orderOf(b));
      this.sorted = true;
    }
    const key = this.keys[this.at++];
    if (key !== undefined) this.queued.delete(key);
    return key;
  }
}

/** The full plan for `peers` (in admission order): the incremental planner run from empty. */
export function planPeers(planning: PeerPlanning, own: Lease, peers: readonly Lease[]): DesiredState {
  const planner = new PeerGroupPlanner(planning);
  planner.update(peers.map((peer, index) => [String(index), peer] as const));
  return { ...planning.base(own), groups: [...planner.groups], warnings: planner.warnings() };
}
