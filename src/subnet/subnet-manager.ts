/**
 * The subnet manager port: where a daemon gets its network config, its lease and its peers' leases. The etcd
 * implementation is EtcdSubnetManager (over any Registry); Kubernetes mode will be a second one.
 */
import type { NetworkConfig } from '../config/network-config.js';
import type { Lease, LeaseAttrs } from '../lease/lease.js';
import type { LeaseWatchResult } from '../lease/lease-tracker.js';
import type { SubnetPair } from '../lease/subnet-key.js';
import type { MalformedEntry } from './registry.js';

export interface SubnetManager {
  /** Logged at start-up, as upstream's "Created subnet manager: …". */
  readonly name: string;
  /** Throws FlannelError CONFIG_MISSING (retryable) when there is none yet, INVALID_NETWORK_CONFIG when bad. */
  getNetworkConfig(): Promise<NetworkConfig>;
  /** Leases a subnet for `attrs` (reusing ours or `prefer` when possible). */
  acquireLease(config: NetworkConfig, attrs: LeaseAttrs, prefer?: Partial<SubnetPair>): Promise<Lease>;
  /** Extends the lease's TTL; returns it with the new expiry. */
  renewLease(lease: Lease): Promise<Lease>;
  watchLeases(signal: AbortSignal, onMalformed: (entry: MalformedEntry) => void): AsyncIterable<LeaseWatchResult>;
  close(): Promise<void>;
}
