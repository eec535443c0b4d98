/**
 * The table of peer leases one host knows, fed by snapshots and watch events (reference §3.7), pure.
 *
 * Our own lease is kept out of the peer table and reported separately, so the daemon can notice that it was
 * deleted or expired. A snapshot replaces the table wholesale; an event changes one entry. Every update says
 * which peer keys changed, so consumers (PeerAdmission) do O(changes) work, and `version` increases whenever the
 * peer table changes (a renewal that rewrites a peer's identical value is not a change, and the table keeps the
 * lease object it had, so per-peer plans memoized by object stay valid).
 */
import type { Cidr } from '../net/ip.js';
import { type Lease, leaseKey, sameLease } from './lease.js';

export type LeaseEvent =
  | { readonly type: 'added'; readonly lease: Lease }
  | { readonly type: 'removed'; readonly subnet: Cidr; readonly ipv6Subnet?: Cidr };

export type LeaseWatchResult =
  | { readonly kind: 'snapshot'; readonly leases: readonly Lease[] }
  | { readonly kind: 'events'; readonly events: readonly LeaseEvent[] };

export interface TrackerUpdate {
  /** True when the peer table changed. */
  readonly peersChanged: boolean;
  /** Keys of peers added, removed or changed, in order (look them up with `get`). */
  readonly changed: readonly string[];
  /** Events about our own lease, in order (a snapshot without our lease yields a 'removed'). */
  readonly own: readonly LeaseEvent[];
}

export class LeaseTracker {
  private readonly peerTable = new Map<string, Lease>();
  private own: Pick<Lease, 'subnet' | 'ipv6Subnet'> | undefined;
  private changeCount = 0;

  /**
   * Sets (or changes, after a re-acquire) the lease that is ours (by its key); a peer entry for it is dropped and
   * its key returned (a change for consumers of `changed`).
   */
  setOwn(lease: Pick<Lease, 'subnet' | 'ipv6Subnet'>): string[] {
    this.own = { subnet: lease.subnet, ...(lease.ipv6Subnet ? { ipv6Subnet: lease.ipv6Subnet } : {}) };
    if (!this.peerTable.delete(leaseKey(lease))) return [];
    this.changeCount++;
    return [leaseKey(lease)];
  }

  get version(): number {
    return this.changeCount;
  }

  peers(): Lease[] {
    return [...this.peerTable.values()];
  }

  /** The peer lease under this key, if any. */
  get(key: string): Lease | undefined {
    return this.peerTable.get(key);
  }

  update(result: LeaseWatchResult): TrackerUpdate {
    return result.kind === 'snapshot' ? this.reset(result.leases) : this.apply(result.events);
  }

  private reset(leases: readonly Lease[]): TrackerUpdate {
    const own: LeaseEvent[] = [];
    const changed: string[] = [];
    const next = new Map<string, Lease>();
    for (const lease of leases) {
      if (this.isOwn(lease)) own.push({ type: 'added', lease });
      else next.set(leaseKey(lease), lease);
    }
    if (this.own && own.length === 0) own.push({ type: 'removed', ...this.own });
    for (const key of this.peerTable.keys()) if (!next.has(key)) changed.push(key);
    for (const [key, lease] of next) {
      const previous = this.peerTable.get(key);
      if (previous && unchanged(previous, lease)) next.set(key, previous);
      else changed.push(key);
    }
    this.peerTable.clear();
    for (const [key, lease] of next) this.peerTable.set(key, lease);
    this.changeCount += changed.length;
    return { peersChanged: changed.length > 0, changed, own };
  }

  private apply(events: readonly LeaseEvent[]): TrackerUpdate {
    const own: LeaseEvent[] = [];
    const changed: string[] = [];
    for (const event of events) {
      if (this.isOwn(event.type === 'added' ? event.lease : event)) {
        own.push(event);
        continue;
      }
      if (event.type === 'added') {
        const key = leaseKey(event.lease);
        const previous = this.peerTable.get(key);
        if (previous && unchanged(previous, event.lease)) continue;
        this.peerTable.set(key, event.lease);
        changed.push(key);
      } else if (this.peerTable.delete(leaseKey(event))) {
        changed.push(leaseKey(event));
      }
    }
    this.changeCount += changed.length;
    return { peersChanged: changed.length > 0, changed, own };
  }

  private isOwn(lease: Pick<Lease, 'subnet' | 'ipv6Subnet'>): boolean {
    return this.own !== undefined && leaseKey(this.own) === leaseKey(lease);
  }
}

/** Same value and same key creation: a renewal, not a change. */
function unchanged(a: Lease, b: Lease): boolean {
  return sameLease(a, b) && a.createRevision === b.createRevision;
}
