/**
 * The table of peer leases one host knows, fed by snapshots and watch events (reference §3.7), pure.
 *
 * Our own lease is kept out of the peer table and reported separately, so the daemon can notice that it was
 * deleted or expired. A snapshot replaces the table wholesale; an event changes one entry. `version` increases
 * whenever the peer table changes, so consumers can skip work when nothing changed (a renewal that rewrites a
 * peer's identical value is not a change).
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
  /** Events about our own lease, in order (a snapshot without our lease yields a 'removed'). */
  readonly own: readonly LeaseEvent[];
}

export class LeaseTracker {
  private readonly peerTable = new Map<string, Lease>();
  private own: Pick<Lease, 'subnet' | 'ipv6Subnet'> | undefined;
  private changeCount = 0;

  /** Sets (or changes, after a re-acquire) the lease that is ours (by its key); a peer entry for it is dropped. */
  setOwn(lease: Pick<Lease, 'subnet' | 'ipv6Subnet'>): void {
    this.own = { subnet: lease.subnet, ...(lease.ipv6Subnet ? { ipv6Subnet: lease.ipv6Subnet } : {}) };
    if (this.peerTable.delete(leaseKey(lease))) this.changeCount++;
  }

  get version(): number {
    return this.changeCount;
  }

  peers(): Lease[] {
    return [...this.peerTable.values()];
  }

  update(result: LeaseWatchResult): TrackerUpdate {
    return result.kind === 'snapshot' ? this.reset(result.leases) : this.apply(result.events);
  }

  private reset(leases: readonly Lease[]): TrackerUpdate {
    const before = this.changeCount;
    const own: LeaseEvent[] = [];
    const next = new Map<string, Lease>();
    for (const lease of leases) {
      if (this.isOwn(lease)) own.push({ type: 'added', lease });
      else next.set(leaseKey(lease), lease);
    }
    if (this.own && own.length === 0) own.push({ type: 'removed', ...this.own });
    for (const [key, lease] of this.peerTable) {
      const replacement = next.get(key);
      if (!replacement || !sameLease(lease, replacement)) this.changeCount++;
    }
    for (const key of next.keys()) if (!this.peerTable.has(key)) this.changeCount++;
    this.peerTable.clear();
    for (const [key, lease] of next) this.peerTable.set(key, lease);
    return { peersChanged: this.changeCount !== before, own };
  }

  private apply(events: readonly LeaseEvent[]): TrackerUpdate {
    const before = this.changeCount;
    const own: LeaseEvent[] = [];
    for (const event of events) {
      if (this.isOwn(event.type === 'added' ? event.lease : event)) {
        own.push(event);
        continue;
      }
      if (event.type === 'added') {
        const key = leaseKey(event.lease);
        const previous = this.peerTable.get(key);
        if (!previous || !sameLease(previous, event.lease)) this.changeCount++;
        this.peerTable.set(key, event.lease);
      } else if (this.peerTable.delete(leaseKey(event))) {
        this.changeCount++;
      }
    }
    return { peersChanged: this.changeCount !== before, own };
  }

  private isOwn(lease: Pick<Lease, 'subnet' | 'ipv6Subnet'>): boolean {
    return this.own !== undefined && leaseKey(this.own) === leaseKey(lease);
  }
}
