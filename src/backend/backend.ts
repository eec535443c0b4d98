/**
 * A backend turns (own lease, peer leases) into desired kernel state; it never writes to the kernel itself
 * (the Reconciler does). It also says what to publish in our lease and what MTU pods get. A backend with a
 * userspace data path also has a run hook (`runDataPath`, see data-path.ts).
 */
import type { NetworkConfig } from '../config/network-config.js';
import type { PeerPlanning } from './peer-group-planner.js';
import type { DesiredState } from '../dataplane/desired-state.js';
import type { Device } from '../dataplane/devices.js';
import type { Link } from '../dataplane/kernel-objects.js';
import type { Lease, LeaseAttrs } from '../lease/lease.js';
import type { LeaseProblem } from '../lease/lease-validation.js';
import type { Cidr, IpAddress } from '../net/ip.js';
import type { MacAddress } from '../net/mac.js';
import type { Logger } from '../support/logger.js';
import type { DataPathHook } from './data-path.js';
import type { DataPathAdapters } from './data-path-ports.js';

/** The interface flannel uses to reach peers, and the addresses it publishes (upstream's ExternalInterface). */
export interface ExternalInterface {
  readonly linkIndex: number;
  readonly name: string;
  readonly mtu: number;
  /** The interface's own IPv4/IPv6 address (with prefix), as chosen by interface selection. */
  readonly ifaceAddr?: Cidr;
  readonly ifaceV6Addr?: Cidr;
  /** Address published to peers: --public-ip, else the interface address. */
  readonly extAddr?: IpAddress;
  readonly extV6Addr?: IpAddress;
  /** Every prefix configured on the interface (to tell which peers are on-link). */
  readonly prefixes: readonly Cidr[];
}

export interface BackendContext {
  readonly config: NetworkConfig;
  readonly externalInterface: ExternalInterface;
  /** Links present at start-up (an existing compatible device keeps its MAC). */
  readonly links?: readonly Link[];
  /** VTEP MACs this host published before (SubnetManager.storedVtepMacs), per underlay family. */
  readonly storedVtepMacs?: { readonly v4?: MacAddress; readonly v6?: MacAddress };
  /** The composition root's ports (data-path-ports.ts), for a factory that needs one at start (wireguard's key file). */
  readonly adapters?: DataPathAdapters;
}

export interface Backend {
  readonly type: string;
  /** FLANNEL_MTU. */
  readonly mtu: number;
  readonly leaseAttrs: LeaseAttrs;
  /** Devices the backend owns (for `flannelctl` and tests; the planner includes them in every plan). */
  readonly devices?: readonly Device[];
  /** Decoded backend options, logged at start-up. */
  readonly options?: unknown;
  /**
   * Work that must finish before the lease is acquired, whose result is published in it (extension's
   * PreStartupCommand output becomes BackendData): resolves with the attributes to publish instead of
   * `leaseAttrs`. A rejection is fatal: flanneld exits with its error. Resolves soon after `signal` aborts.
   */
  prepareLease?(context: { readonly adapters: DataPathAdapters; readonly logger: Logger }, signal: AbortSignal): Promise<LeaseAttrs>;
  /** Pure: same input, same output. */
  plan(own: Lease, peers: readonly Lease[]): DesiredState;
  /**
   * Present when the backend plans each peer on its own: the daemon then keeps the plan up to date per lease
   * event in O(changed peers) (peer-group-planner.ts); `plan` must equal planPeers(peerPlanning, …).
   */
  readonly peerPlanning?: PeerPlanning;
  /**
   * Pure, O(1): why a peer lease (already checked against the network config) cannot work with this backend —
   * BackendType, BackendData — or undefined. Rejected peers never reach `plan`.
   */
  checkPeer?(peer: Lease): LeaseProblem | undefined;
  /**
   * The backend's data path, run for the daemon's lifetime with the ports it needs (data-path.ts). Absent for
   * backends whose data path is the kernel's alone (vxlan, host-gw, ipip).
   */
  readonly runDataPath?: DataPathHook;
}

export type BackendFactory = (context: BackendContext) => Backend;
