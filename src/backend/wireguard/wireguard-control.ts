/**
 * The WireguardControl port: read and change one WireGuard device's configuration (private key, listen port,
 * peers with their allowed IPs). Two adapters implement it — the kernel's generic netlink
 * (src/adapters/wireguard/netlink-wireguard-control.ts) and wireguard-go's UAPI socket
 * (src/adapters/wireguard/uapi-wireguard-control.ts) — and MemoryWireguardControl fakes it; one contract suite
 * runs on the fake and on a real wireguard-go. Creating, deleting, addressing and raising the link itself is the
 * Kernel port's business (or the wireguard-go supervisor's): this port only configures a device that exists.
 *
 * A change is applied in order, like `wg set`: device fields, then `replacePeers`, then each peer. It is not
 * atomic: after a failure the device may hold part of the change, so callers read the device back (the
 * reconciler does on its next pass). Failures are FlannelErrors whose code is the errno name the implementation
 * reported (`EINVAL`, `EADDRINUSE`…), or `ENODEV` when the device does not exist.
 */
import type { Cidr, IpAddress } from '../../net/ip.js';
import type { WireguardKey } from './wireguard-key.js';

/** A UDP endpoint; `ip:port`, or `[ip]:port` for IPv6, in text. */
export interface WireguardEndpoint {
  readonly ip: IpAddress;
  readonly port: number;
}

export function formatEndpoint(endpoint: WireguardEndpoint): string {
  return endpoint.ip.family === 6 ? `[${endpoint.ip}]:${endpoint.port}` : `${endpoint.ip}:${endpoint.port}`;
}

export function sameEndpoint(a: WireguardEndpoint | undefined, b: WireguardEndpoint | undefined): boolean {
  if (!a || !b) return a === b;
  return a.ip.equals(b.ip) && a.port === b.port;
}

/** A peer as the device reports it. */
export interface WireguardPeerState {
  readonly publicKey: WireguardKey;
  /** Absent when the device has none (it reports all zeros). */
  readonly presharedKey?: WireguardKey;
  readonly endpoint?: WireguardEndpoint;
  readonly persistentKeepaliveSeconds: number;
  /** In the device's order; masked to their prefix. */
  readonly allowedIps: readonly Cidr[];
  /** Wall-clock time of the last handshake (epoch ms); absent when there was none. */
  readonly lastHandshakeEpochMs?: number;
  readonly rxBytes: bigint;
  readonly txBytes: bigint;
}

/** A peer being decoded by an adapter (fields filled as the reply is read). */
export type WireguardPeerBuilder = { -readonly [K in keyof WireguardPeerState]: WireguardPeerState[K] } & { allowedIps: Cidr[] };

export function newPeerBuilder(publicKey: WireguardKey): WireguardPeerBuilder {
  return { publicKey, persistentKeepaliveSeconds: 0, allowedIps: [], rxBytes: 0n, txBytes: 0n };
}

/** A device's configuration as read back. */
export interface WireguardDeviceState {
  readonly name: string;
  /** Absent until a private key is set. */
  readonly privateKey?: WireguardKey;
  readonly publicKey?: WireguardKey;
  readonly listenPort: number;
  readonly fwmark: number;
  readonly peers: readonly WireguardPeerState[];
}

/** One peer's part of a change (`wg set <dev> peer <key> …`). */
export interface WireguardPeerChange {
  readonly publicKey: WireguardKey;
  /** Remove the peer (nothing else is read); removing an unknown peer is not an error. */
  readonly remove?: boolean;
  /** Change the peer only if it exists (never create it). */
  readonly updateOnly?: boolean;
  /** A key to set, or null to clear it; absent leaves it as it is. */
  readonly presharedKey?: WireguardKey | null;
  readonly endpoint?: WireguardEndpoint;
  /** 0 disables; absent leaves it as it is. */
  readonly persistentKeepaliveSeconds?: number;
  /** Drop the peer's allowed IPs before adding `allowedIps` (which is then the complete list). */
  readonly replaceAllowedIps?: boolean;
  /** Added to the peer; an allowed IP held by another peer moves to this one. */
  readonly allowedIps?: readonly Cidr[];
}

export interface WireguardDeviceChange {
  readonly privateKey?: WireguardKey;
  readonly listenPort?: number;
  readonly fwmark?: number;
  /** Remove every peer before applying `peers`. */
  readonly replacePeers?: boolean;
  readonly peers?: readonly WireguardPeerChange[];
}

export interface WireguardControl {
  /** The device's configuration, or undefined when no WireGuard device of that name exists. */
  getDevice(name: string): Promise<WireguardDeviceState | undefined>;
  /** Applies `change` to the device (see the file comment for ordering and failures). */
  configureDevice(name: string, change: WireguardDeviceChange): Promise<void>;
}
