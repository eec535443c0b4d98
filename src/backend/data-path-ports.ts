/**
 * The ports a backend's data path receives (DataPathContext.adapters). Interfaces only: the adapters that
 * implement them live in src/adapters/ and are wired in src/cmd/flanneld.ts; tests pass doubles. Every port is
 * optional in DataPathAdapters, so a backend that needs one it did not get fails at start with a clear error
 * (`requireAdapter`) instead of running half a data path.
 */
import type { Cidr, IpAddress } from '../net/ip.js';
import { FlannelError } from '../support/errors.js';

// ---- udp: the TUN/UDP forwarder (runs off the main thread) ----

/** A peer as the forwarder sees it: its lease subnet and public IPv4 address. */
export interface UdpForwarderPeer {
  readonly subnet: Cidr;
  readonly publicIp: IpAddress;
  /** The peer's UDP port; upstream sends to its own configured Port, so that is the default. */
  readonly port?: number;
}

export interface UdpDeviceEvent {
  readonly name: string;
  readonly index: number;
  /** False for the device opened at start, true for one opened again after the previous was deleted. */
  readonly reopened: boolean;
}

export interface UdpForwarderOptions {
  /** The TUN device's name, as the plan names it (the reconciler waits for exactly that name). */
  readonly tunName: string;
  /** Our subnet's first address (the device's /32): the source of ICMP net-unreachable replies. */
  readonly tunAddress: IpAddress;
  /** The interface address to bind (upstream binds the interface address, not the public IP). */
  readonly bindAddress: IpAddress;
  readonly port: number;
  /** The device's MTU (sizes the packet buffers). */
  readonly mtu: number;
  readonly peers: readonly UdpForwarderPeer[];
  /** The device was opened (at start) or opened again (after someone deleted it). */
  readonly onDevice: (event: UdpDeviceEvent) => void;
  /** A device deleted under the forwarder that cannot be opened again yet, or the forwarder died. */
  readonly onError: (error: Error) => void;
}

export interface RunningUdpForwarder {
  /** The whole current peer set; only the difference reaches the forwarder. Returns the peers left out, each with why. */
  setPeers(peers: readonly UdpForwarderPeer[]): readonly string[];
  /** Packets, bytes, drops by reason… (totals since start). */
  counters(): Readonly<Record<string, number>>;
  /** Stops the forwarder (its TUN goes with its descriptor). Idempotent. */
  stop(): Promise<void>;
}

export interface UdpForwarderPort {
  /** Opens the TUN and the socket; resolves once both are open (the first `onDevice` already delivered). */
  start(options: UdpForwarderOptions): Promise<RunningUdpForwarder>;
}

/**
 * Every data-path port the composition root can offer; each backend uses the ones it needs. A slice that brings
 * a data path adds its port here as an optional member (the wireguard slice: its WireguardControl port, with the
 * generic-netlink and wireguard-go UAPI adapters, and the wireguard-go supervisor) and wires it in flanneld.ts.
 */
export interface DataPathAdapters {
  readonly udpForwarder?: UdpForwarderPort;
}

/** The port `name`, or a FlannelError (NO_ADAPTER) naming the backend that needs it. */
export function requireAdapter<K extends keyof DataPathAdapters>(adapters: DataPathAdapters, name: K, backend: string): NonNullable<DataPathAdapters[K]> {
  const adapter = adapters[name];
  if (adapter === undefined) throw new FlannelError('NO_ADAPTER', `the ${backend} backend needs the ${name} adapter, which this flanneld was not built with`);
  return adapter as NonNullable<DataPathAdapters[K]>;
}
