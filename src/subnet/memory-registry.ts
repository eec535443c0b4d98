/**
 * An in-memory Registry with etcd's semantics (revisions, atomic create, TTL expiry, watch from a revision,
 * compaction, a watch from a revision the store never reached is REGISTRY_RESET), for unit and component tests.
 * Test-only controls: `putRaw` (write any key/value, as a foreign writer could), `compact` (drop history before
 * a revision), `failWatches` (break every open watch, as a lost connection does) and `wipe` (an etcd
 * disaster: everything gone, revisions start again). An expiring TTL looks to watchers exactly like
 * `deleteLease`.
 */
import { type Lease, encodeLeaseAttrs, leaseKey } from '../lease/lease.js';
import type { LeaseEvent } from '../lease/lease-tracker.js';
import { FlannelError } from '../support/errors.js';
import { whenAborted } from '../support/timing.js';
import type { MalformedEntry, Registry, RegistryListing, RegistryWatchBatch } from './registry.js';
import { collectChange, parseStoredLease } from './stored-lease.js';

interface Entry {
  value: string;
  expiresAtMs?: number;
  /** The revision that created the key (etcd's create_revision: a rewrite keeps it). */
  createRevision: bigint;
}

interface Change {
  revision: bigint;
  key: string;
  value?: string;
  expiresAtMs?: number;
  createRevision?: bigint;
}

export class MemoryRegistry implements Registry {
  private readonly entries = new Map<string, Entry>();
  private readonly history: Change[] = [];
  private revision = 1n;
  private compactedBelow = 0n;
  private config: string | undefined;
  private readonly waiters = new Set<() => void>();
  private watchFailure: FlannelError | undefined;

  constructor(private readonly now: () => number = Date.now) {}

  setNetworkConfig(text: string | undefined): void {
    this.config = text;
  }

  async getNetworkConfig(): Promise<string | undefined> {
    return this.config;
  }

  async listLeases(): Promise<RegistryListing> {
    const leases: Lease[] = [];
    const malformed: MalformedEntry[] = [];
    for (const [key, entry] of this.entries) {
      const parsed = parseStoredLease(key, entry.value, entry.expiresAtMs, entry.createRevision);
      if ('lease' in parsed) leases.push(parsed.lease);
      else malformed.push(parsed.malformed);
    }
    return { leases, malformed, revision: this.revision };
  }

  async createLease(lease: Lease, ttlSeconds: number): Promise<Lease> {
    const key = leaseKey(lease);
    if (this.entries.has(key)) throw new FlannelError('SUBNET_TAKEN', `subnet already exists: ${key}`, { retryable: true });
    return this.write(key, lease, ttlSeconds);
  }

  async updateLease(lease: Lease, ttlSeconds: number): Promise<Lease> {
    return this.write(leaseKey(lease), lease, ttlSeconds);
  }

  async deleteLease(lease: Pick<Lease, 'subnet' | 'ipv6Subnet'>): Promise<void> {
    this.remove(leaseKey(lease));
  }

  putRaw(key: string, value: string): void {
    const revision = ++this.revision;
    const createRevision = this.entries.get(key)?.createRevision ?? revision;
    this.entries.set(key, { value, createRevision });
    this.record({ revision, key, value, createRevision });
  }

  compact(belowRevision: bigint): void {
    this.compactedBelow = belowRevision;
    this.history.splice(0, this.history.findIndex((change) => change.revision >= belowRevision));
  }

  failWatches(): void {
    this.watchFailure = new FlannelError('REGISTRY_UNAVAILABLE', 'watch connection lost', { retryable: true });
    this.wake();
  }

  /** The store is lost and recreated empty (no config, no leases, revision 1); open watches break. */
  wipe(): void {
    this.entries.clear();
    this.history.length = 0;
    this.revision = 1n;
    this.compactedBelow = 0n;
    this.config = undefined;
    this.failWatches();
  }

  get currentRevision(): bigint {
    return this.revision;
  }

  async *watchLeases(fromRevision: bigint, signal: AbortSignal, onEstablished?: () => void): AsyncIterable<RegistryWatchBatch> {
    this.watchFailure = undefined;
    if (fromRevision - 1n > this.revision) {
      throw new FlannelError('REGISTRY_RESET', `store is at revision ${this.revision}, below revision ${fromRevision - 1n} already seen`);
    }
    if (fromRevision < this.compactedBelow) {
      throw new FlannelError('COMPACTED', `revision ${fromRevision} has been compacted (oldest ${this.compactedBelow})`);
    }
    onEstablished?.();
    let next = fromRevision;
    while (!signal.aborted) {
      const pending = this.history.filter((change) => change.revision >= next);
      if (pending.length > 0) {
        const events: LeaseEvent[] = [];
        const malformed: MalformedEntry[] = [];
        for (const change of pending) collectChange(change.key, change.value, change.expiresAtMs, events, malformed, change.createRevision);
        const last = pending[pending.length - 1] as Change;
        next = last.revision + 1n;
        yield { revision: last.revision, events, malformed };
        continue;
      }
      if (this.watchFailure) throw this.watchFailure;
      await new Promise<void>((resolve) => {
        let detach = (): void => undefined;
        const done = () => {
          this.waiters.delete(done);
          detach();
          resolve();
        };
        this.waiters.add(done);
        detach = whenAborted(signal, done);
      });
    }
  }

  async close(): Promise<void> {
    this.wake();
  }

  private write(key: string, lease: Lease, ttlSeconds: number): Lease {
    const expiresAtMs = this.now() + ttlSeconds * 1000;
    const value = encodeLeaseAttrs(lease.attrs);
    const revision = ++this.revision;
    const createRevision = this.entries.get(key)?.createRevision ?? revision;
    this.entries.set(key, { value, expiresAtMs, createRevision });
    this.record({ revision, key, value, expiresAtMs, createRevision });
    return { ...lease, expiresAtMs };
  }

  private remove(key: string): void {
    if (!this.entries.delete(key)) return;
    this.record({ revision: ++this.revision, key });
  }

  private record(change: Change): void {
    this.history.push(change);
    this.wake();
  }

  private wake(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}
