/**
 * The data-path hook of a Backend (Backend.runDataPath) and what it receives. A backend with a userspace data
 * path — udp's TUN/UDP forwarder, a supervised wireguard-go, kernel wireguard's keys and peers — runs it for the
 * daemon's lifetime through this context. The backend module stays pure: every I/O capability arrives as a
 * port in `adapters`, injected by the composition root (src/cmd/flanneld.ts) from src/adapters/.
 *
 * Division of labour with the reconciler (the only writer of routes, addresses, neighbours and of links it
 * creates): the data path forwards packets or configures its device's peers, and creates the devices the
 * reconciler cannot (a TUN exists only while its descriptor is open); it never programs routes or addresses.
 * The plan names those devices (TunDevice, userspace WireguardDevice): the reconciler waits for them, and once
 * they exist owns their addresses, MTU, up flag and routes. When the data path (re)creates or loses such a
 * device it says so through `devices`, so the reconciler re-reads at once rather than at its next safety-net
 * resync (a new TUN has none of its addresses and routes). The other way round, `devices.present` tells the
 * data path which of the plan's devices exist and under which index: a device the reconciler created again
 * (kernel wireguard deleted by someone) has a new index and none of its keys or peers, so the data path
 * configures it again.
 *
 * Lifetime: the daemon starts the hook once its lease is held (peers may still be arriving), and awaits it on
 * shutdown: the hook must return soon after `signal` aborts, having stopped what it started. A rejection is
 * fatal for the daemon (e.g. the udp port is taken): it stops everything else and exits with that error.
 */
import type { Lease } from '../lease/lease.js';
import type { Logger } from '../support/logger.js';
import type { DataPathAdapters } from './data-path-ports.js';

/** Our lease and the admitted peers (checked against the network config and Backend.checkPeer). */
export interface LeaseSnapshot {
  readonly own: Lease;
  readonly peers: readonly Lease[];
  /**
   * False until the first full listing of leases arrived: `peers` may lack peers that exist. A data path must
   * not remove state for peers it does not see while false (a restarted flanneld would cut live sessions).
   */
  readonly complete: boolean;
}

/** A value that changes over the daemon's lifetime. */
export interface Feed<T> {
  current(): T;
  /**
   * Yields the current value at once, then again after each change. Coalesced: a slow consumer gets the latest
   * value, never a backlog, so a burst of lease events never queues up behind the data path. Ends when `signal`
   * aborts.
   */
  changes(signal: AbortSignal): AsyncIterable<T>;
}

export type LeaseFeed = Feed<LeaseSnapshot>;

/** The plan's devices, between the data path and the reconciler. */
export interface DataPathDevices {
  /** The plan's devices that exist now (name → ifindex), as of the reconciler's last pass. */
  readonly present: Feed<ReadonlyMap<string, number>>;
  /** A device this data path creates was created or created again (new index; none of its addresses or routes). */
  appeared(name: string): void;
  /** It is gone (deleted under the data path, or its descriptor closed). */
  disappeared(name: string): void;
}

/** Where the data path reports its counters (packets, bytes, drops by reason…). */
export interface CounterSink {
  /** The counters now, totals since the data path started; replaces the previous snapshot. Cheap: call it freely. */
  publish(counters: Readonly<Record<string, number>>): void;
}

export interface DataPathContext {
  readonly adapters: DataPathAdapters;
  readonly leases: LeaseFeed;
  readonly devices: DataPathDevices;
  readonly logger: Logger;
  readonly counters: CounterSink;
}

/** Runs a backend's data path until `signal` aborts; see the module comment for the contract. */
export type DataPathHook = (context: DataPathContext, signal: AbortSignal) => Promise<void>;
