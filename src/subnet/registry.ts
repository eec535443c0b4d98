/**
 * The registry port: where leases and the network config are stored (etcd in production, MemoryRegistry in
 * unit tests). Keys are upstream's (`<prefix>/config`, `<prefix>/subnets/<key>`); values are upstream's JSON.
 *
 * Contract (checked by test/contract/registry.contract.ts against both implementations):
 * - `createLease` is atomic: it succeeds only when no key for that subnet exists, else throws
 *   FlannelError('SUBNET_TAKEN'); two hosts can never hold one subnet.
 * - `listLeases` returns every parseable lease plus a `malformed` entry for each key or value that is not one,
 *   and the store revision the listing reflects.
 * - `watchLeases(from)` yields every change with revision ≥ `from`, in order, in batches that carry the revision
 *   of their last change; it throws FlannelError('COMPACTED') when `from` is no longer available,
 *   FlannelError('REGISTRY_RESET') when the store is not the one revision `from - 1` was seen in (wiped or
 *   restored: it is below that revision, or another etcd cluster), and a retryable FlannelError when the
 *   connection fails. It ends when `signal` aborts. After COMPACTED or REGISTRY_RESET only a new listing
 *   tells the truth. It calls `onEstablished` once the store has accepted the watch (etcd's "created"
 *   response), before any batch: a caller learns that the store answers again even when nothing changes.
 */
import type { Lease } from '../lease/lease.js';
import type { LeaseEvent } from '../lease/lease-tracker.js';

export interface MalformedEntry {
  readonly key: string;
  readonly reason: string;
}

export interface RegistryListing {
  readonly leases: readonly Lease[];
  readonly malformed: readonly MalformedEntry[];
  readonly revision: bigint;
}

export interface RegistryWatchBatch {
  readonly revision: bigint;
  readonly events: readonly LeaseEvent[];
  readonly malformed: readonly MalformedEntry[];
}

export interface Registry {
  /** The raw config text, or undefined when the key does not exist. */
  getNetworkConfig(): Promise<string | undefined>;
  listLeases(): Promise<RegistryListing>;
  /** Atomically creates the lease with a TTL; returns it with `expiresAtMs` set. */
  createLease(lease: Lease, ttlSeconds: number): Promise<Lease>;
  /** Rewrites the lease value under a fresh TTL (renewal). */
  updateLease(lease: Lease, ttlSeconds: number): Promise<Lease>;
  deleteLease(lease: Pick<Lease, 'subnet' | 'ipv6Subnet'>): Promise<void>;
  watchLeases(fromRevision: bigint, signal: AbortSignal, onEstablished?: () => void): AsyncIterable<RegistryWatchBatch>;
  close(): Promise<void>;
}
