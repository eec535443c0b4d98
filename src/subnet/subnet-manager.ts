/**
 * The subnet manager port: where a daemon gets its network config, its lease and its peers' leases. The etcd
 * implementation is EtcdSubnetManager (over any Registry); KubeSubnetManager is the Kubernetes one (Nodes).
 * The optional members exist only where the source has something to say (Kubernetes mode); a daemon calls
 * each one when present, at the point its comment names.
 */
import type { NetworkConfig } from '../config/network-config.js';
import type { Lease, LeaseAttrs } from '../lease/lease.js';
import type { LeaseWatchResult } from '../lease/lease-tracker.js';
import type { SubnetPair } from '../lease/subnet-key.js';
import type { MacAddress } from '../net/mac.js';
import type { MalformedEntry } from './registry.js';

export interface SubnetManager {
  /** Logged at start-up, as upstream's "Created subnet manager: …". */
  readonly name: string;
  /** Throws FlannelError CONFIG_MISSING (retryable) when there is none yet, INVALID_NETWORK_CONFIG when bad. */
  getNetworkConfig(): Promise<NetworkConfig>;
  /** Leases a subnet for `attrs` (reusing ours or `prefer` when possible). */
  acquireLease(config: NetworkConfig, attrs: LeaseAttrs, prefer?: Partial<SubnetPair>): Promise<Lease>;
  /**
   * Extends the lease's TTL; returns it with the new expiry. A lease without `expiresAtMs` never expires and
   * must not be renewed (Kubernetes mode returns it unchanged).
   */
  renewLease(lease: Lease): Promise<Lease>;
  watchLeases(signal: AbortSignal, onMalformed: (entry: MalformedEntry) => void): AsyncIterable<LeaseWatchResult>;
  close(): Promise<void>;
  /**
   * Public addresses stored for this host ("" when none), which override --public-ip / --public-ipv6: call after
   * the network config is known and before interface selection (upstream's GetStoredPublicIP). Throws a
   * retryable FlannelError when the source cannot be read.
   */
  storedPublicIPs?(signal?: AbortSignal): Promise<{ readonly publicIP: string; readonly publicIPv6: string }>;
  /**
   * VTEP MACs this host published before, to give a newly created vxlan device the MAC peers already know: call
   * before building the backend (upstream's GetStoredMacAddresses). Throws a retryable FlannelError when the
   * source cannot be read.
   */
  storedVtepMacs?(signal?: AbortSignal): Promise<{ readonly v4?: MacAddress; readonly v6?: MacAddress }>;
  /**
   * The last start-up step, once the backend runs and subnet.env is written (upstream's CompleteLease):
   * Kubernetes mode marks the node's network available. Retries until done or `signal` aborts.
   */
  completeLease?(lease: Lease, signal: AbortSignal): Promise<void>;
}
