/**
 * Which peer leases reach the planner. Every candidate (every parsed peer lease the tracker holds) is checked
 * against the network config and the backend (lease-validation.ts), then against overlaps: a lease whose
 * subnet overlaps ours is rejected (ours always wins); between two peers the one held longer wins (earlier
 * create revision, else seen first) and the other is rejected until the winner goes
 * away or changes, when it is checked again. Pure; O(that lease + the leases it was blocking) per change,
 * never O(every lease).
 *
 * `update` and `setOwn` return the rejections that are new (a lease rejected again for the same reason is not
 * reported twice, so a caller logging them logs each once), the leases admitted after having been rejected,
 * and whether the admitted set changed.
 */
import type { NetworkConfig } from '../config/network-config.js';
import type { Cidr } from '../net/ip.js';
import { type Lease, hasIpv4 } from './lease.js';
import { type LeaseProblem, type PeerCheckContext, checkPeerLease, describeLeaseProblem } from './lease-validation.js';
import { PrefixOwners } from './prefix-owners.js';

export interface Rejection {
  readonly key: string;
  readonly problem: LeaseProblem;
}

export interface AdmissionReport {
  /** The admitted set changed (a peer added, removed or replaced). */
  readonly changed: boolean;
  /** Leases rejected for a reason not reported before. */
  readonly rejected: readonly Rejection[];
  /** Keys admitted that were rejected before. */
  readonly readmitted: readonly string[];
  /** Keys whose admitted lease may have changed (admitted, replaced or taken out): what a planner re-plans. */
  readonly touched: readonly string[];
}

/** The owner key of our own lease in the prefix index ('' is never a lease key). */
const OURS = '';

export class PeerAdmission {
  private readonly candidates = new Map<string, Lease>();
  private readonly admitted = new Map<string, Lease>();
  /** Rejected keys → the problem last reported for them. */
  private readonly rejected = new Map<string, string>();
  /** Admitted key (or OURS) → keys rejected for overlapping it; checked again when it leaves or changes. */
  private readonly blocking = new Map<string, Set<string>>();
  private readonly blockedBy = new Map<string, string>();
  /** Order of first sight, the tie-breaker when create revisions are unknown. */
  private readonly firstSeen = new Map<string, number>();
  private sightings = 0;
  private readonly owners = new PrefixOwners<string>();
  private own: Lease | undefined;
  private rejectionCount = 0;

  constructor(private readonly context: PeerCheckContext) {}

  /** Admitted peers, in admission order (O(peers): per event, use the report's `touched` and `admittedLease`). */
  peers(): Lease[] {
    return [...this.admitted.values()];
  }

  /** Admitted peers with their keys, in admission order. */
  admittedEntries(): Array<[string, Lease]> {
    return [...this.admitted];
  }

  /** The admitted lease of `key`, if admitted. */
  admittedLease(key: string): Lease | undefined {
    return this.admitted.get(key);
  }

  /** Leases rejected right now. */
  get rejectedNow(): number {
    return this.rejected.size;
  }

  /** Leases rejected right now, by key, with the reason (for `flannelctl status` and `trace`). */
  rejections(): ReadonlyMap<string, string> {
    return this.rejected;
  }

  /** Rejections reported since the start (each distinct reason of each key once). */
  get rejectionsReported(): number {
    return this.rejectionCount;
  }

  /** Sets or changes our own lease: peers overlapping it are rejected, those that overlapped the old one checked again. */
  setOwn(lease: Lease): AdmissionReport {
    const report = newReport();
    const queue: string[] = [];
    if (this.own) for (const prefix of prefixesOf(this.own, this.context.config)) this.owners.remove(OURS, prefix);
    this.own = lease;
    for (const prefix of prefixesOf(lease, this.context.config)) {
      for (const owner of this.owners.overlapping(prefix)) {
        if (owner === OURS) continue;
        queue.push(owner, ...this.detach(owner, report));
      }
      this.owners.add(OURS, prefix);
    }
    queue.push(...this.takeBlocked(OURS));
    this.drain(queue, report);
    return report;
  }

  /** Applies changed candidates: a lease (added or replaced) or undefined (removed), by key. */
  update(changes: Iterable<readonly [string, Lease | undefined]>): AdmissionReport {
    const report = newReport();
    const queue: string[] = [];
    for (const [key, lease] of changes) {
      if (lease) {
        this.candidates.set(key, lease);
        if (!this.firstSeen.has(key)) this.firstSeen.set(key, this.sightings++);
      } else {
        this.candidates.delete(key);
        this.firstSeen.delete(key);
      }
      queue.push(key);
    }
    this.drain(queue, report);
    return report;
  }

  /** Checks each queued key again; keys it was blocking are queued after it, so they see its new state. */
  private drain(queue: string[], report: MutableReport): void {
    while (queue.length > 0) {
      const key = queue.shift() as string;
      queue.push(...this.detach(key, report), ...this.evaluate(key, report));
    }
  }

  /** Admits or rejects one candidate (already detached); returns keys to check again (peers it evicted). */
  private evaluate(key: string, report: MutableReport): string[] {
    const lease = this.candidates.get(key);
    if (!lease) {
      this.rejected.delete(key);
      return [];
    }
    const problem = checkPeerLease(lease, this.context);
    if (problem) return this.reject(key, problem, undefined, report), [];
    const overlaps = new Map<string, Cidr>();
    for (const prefix of prefixesOf(lease, this.context.config)) {
      for (const owner of this.owners.overlapping(prefix)) overlaps.set(owner, prefix);
    }
    const ours = overlaps.get(OURS);
    if (ours) {
      this.reject(key, overlapProblem(ours, `our subnet ${prefixesOf(this.own as Lease, this.context.config).join(' and ')}`), OURS, report);
      return [];
    }
    const older = [...overlaps.keys()].find((owner) => this.heldLonger(owner, key));
    if (older !== undefined) {
      this.reject(key, overlapProblem(overlaps.get(older) as Cidr, `${older} (held longer)`), older, report);
      return [];
    }
    const again: string[] = [];
    for (const [owner, prefix] of overlaps) {
      const held = this.admitted.get(owner);
      const theirs = held ? prefixesOf(held, this.context.config).find((candidate) => candidate.family === prefix.family) : undefined;
      again.push(...this.detach(owner, report));
      this.reject(owner, overlapProblem(theirs ?? prefix, `${key} (held longer)`), key, report);
    }
    this.admit(key, lease, report);
    return again;
  }

  private admit(key: string, lease: Lease, report: MutableReport): void {
    this.admitted.set(key, lease);
    for (const prefix of prefixesOf(lease, this.context.config)) this.owners.add(key, prefix);
    if (this.rejected.delete(key)) report.readmitted.push(key);
    report.changed = true;
    report.touched.push(key);
  }

  private reject(key: string, problem: LeaseProblem, blocker: string | undefined, report: MutableReport): void {
    if (blocker !== undefined) {
      this.blockedBy.set(key, blocker);
      const set = this.blocking.get(blocker);
      if (set) set.add(key);
      else this.blocking.set(blocker, new Set([key]));
    }
    const text = describeLeaseProblem(problem);
    if (this.rejected.get(key) === text) return;
    this.rejected.set(key, text);
    this.rejectionCount++;
    report.rejected.push({ key, problem });
  }

  /** Takes a key out of the admitted set and the overlap index; returns the keys it was blocking. */
  private detach(key: string, report: MutableReport): string[] {
    const lease = this.admitted.get(key);
    if (lease) {
      this.admitted.delete(key);
      for (const prefix of prefixesOf(lease, this.context.config)) this.owners.remove(key, prefix);
      report.changed = true;
      report.touched.push(key);
    }
    const blocker = this.blockedBy.get(key);
    if (blocker !== undefined) {
      this.blockedBy.delete(key);
      this.blocking.get(blocker)?.delete(key);
    }
    return this.takeBlocked(key);
  }

  private takeBlocked(key: string): string[] {
    const blocked = [...(this.blocking.get(key) ?? [])];
    this.blocking.delete(key);
    for (const other of blocked) this.blockedBy.delete(other);
    return blocked;
  }

  /**
   * True when `a` has held its subnet longer than `b`: ordered by create revision (unknown ones last), then by
   * first sight, then by key — a total order, so every host that sees the same leases picks the same winners.
   */
  private heldLonger(a: string, b: string): boolean {
    const revision = (key: string) => this.candidates.get(key)?.createRevision;
    const [revisionA, revisionB] = [revision(a), revision(b)];
    if (revisionA !== revisionB) return revisionB === undefined || (revisionA !== undefined && revisionA < revisionB);
    const [seenA, seenB] = [this.firstSeen.get(a) ?? Infinity, this.firstSeen.get(b) ?? Infinity];
    return seenA !== seenB ? seenA < seenB : a < b;
  }
}

interface MutableReport {
  changed: boolean;
  rejected: Rejection[];
  readmitted: string[];
  touched: string[];
}

function newReport(): MutableReport {
  return { changed: false, rejected: [], readmitted: [], touched: [] };
}

/** The prefixes of a lease that matter under this config (the families it enables). */
function prefixesOf(lease: Lease, config: NetworkConfig): Cidr[] {
  const prefixes: Cidr[] = [];
  if (config.enableIPv4 && hasIpv4(lease)) prefixes.push(lease.subnet);
  if (config.enableIPv6 && lease.ipv6Subnet) prefixes.push(lease.ipv6Subnet);
  return prefixes;
}

function overlapProblem(prefix: Cidr, holder: string): LeaseProblem {
  return { field: prefix.family === 4 ? 'subnet' : 'ipv6Subnet', value: prefix.toString(), reason: `overlaps ${holder}` };
}
