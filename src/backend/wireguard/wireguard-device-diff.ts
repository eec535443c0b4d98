/**
 * Desired vs observed WireGuard device: the change that makes the device what the plan says, or undefined when
 * it already is. Peers are desired state like routes: a missing peer is added, a peer that differs (allowed IPs
 * as a set, PSK, keepalive, endpoint) is rewritten whole (`replaceAllowedIps` with the complete list — the
 * Debian wireguard-go predates removing single allowed IPs), and a peer nobody asked for is removed (someone's
 * `wg set … peer X`, or a lease gone while flanneld was down). The private key and listen port are checked too.
 *
 * Roaming: WireGuard moves a peer's endpoint to wherever its authenticated packets come from (a NAT). Resetting
 * it on every pass would break such a peer. An endpoint that differs from the desired one is therefore left
 * alone when the caller says it already applied this peer's desired endpoint (`settledPeers`, keys in hex) and
 * the peer completed a handshake within the last 180 s (WireGuard's REJECT_AFTER_TIME) — the session works. A
 * changed lease endpoint (not settled) or a dead session is always repaired. Pure; the time is passed in.
 */
import type { WireguardDeviceChange, WireguardDeviceState, WireguardPeerChange, WireguardPeerState } from './wireguard-control.js';
import { formatEndpoint, sameEndpoint } from './wireguard-control.js';
import type { DesiredWireguardPeer, WireguardDeviceConfig } from './wireguard-desired.js';

/** WireGuard's REJECT_AFTER_TIME: a session older than this carries no data. */
export const SESSION_LIFETIME_MS = 180_000;

export interface WireguardDiffOptions {
  /** Wall-clock now (epoch ms), compared with the peers' last handshake times. */
  readonly nowMs: number;
  /** Peers (public key in hex) whose current desired endpoint was applied before: roaming is tolerated for them. */
  readonly settledPeers?: ReadonlySet<string>;
}

export interface WireguardDeviceDiff {
  readonly change: WireguardDeviceChange;
  /** One line per difference, for logs and drift counters (no secrets). */
  readonly differences: readonly string[];
}

export function diffWireguardDevice(
  desired: Pick<WireguardDeviceConfig, 'name' | 'listenPort' | 'privateKey'>,
  desiredPeers: readonly DesiredWireguardPeer[],
  observed: WireguardDeviceState,
  options: WireguardDiffOptions,
): WireguardDeviceDiff | undefined {
  const differences: string[] = [];
  let change: { -readonly [K in keyof WireguardDeviceChange]: WireguardDeviceChange[K] } = {};
  if (!desired.privateKey.equals(observed.privateKey)) {
    change.privateKey = desired.privateKey;
    differences.push(`${desired.name}: private key ${observed.privateKey ? 'differs' : 'not set'}`);
  }
  if (desired.listenPort !== observed.listenPort) {
    change.listenPort = desired.listenPort;
    differences.push(`${desired.name}: listen port ${observed.listenPort}, want ${desired.listenPort}`);
  }
  const observedByKey = new Map(observed.peers.map((peer) => [peer.publicKey.toHex(), peer]));
  const peers: WireguardPeerChange[] = [];
  const wanted = new Set<string>();
  for (const peer of desiredPeers) {
    const key = peer.publicKey.toHex();
    wanted.add(key);
    const current = observedByKey.get(key);
    const peerDifferences = current ? comparePeer(peer, current, options) : ['missing'];
    if (peerDifferences.length === 0) continue;
    differences.push(...peerDifferences.map((text) => `${desired.name}: peer ${peer.publicKey.toString()} ${text}`));
    const keepEndpoint = current !== undefined && !peerDifferences.some((text) => text.startsWith('endpoint'));
    peers.push({
      publicKey: peer.publicKey,
      presharedKey: peer.presharedKey ?? null,
      persistentKeepaliveSeconds: peer.persistentKeepaliveSeconds,
      ...(peer.endpoint && !keepEndpoint ? { endpoint: peer.endpoint } : {}),
      replaceAllowedIps: true,
      allowedIps: peer.allowedIps,
    });
  }
  for (const peer of observed.peers) {
    if (wanted.has(peer.publicKey.toHex())) continue;
    differences.push(`${desired.name}: peer ${peer.publicKey.toString()} not wanted`);
    peers.push({ publicKey: peer.publicKey, remove: true });
  }
  if (peers.length > 0) change = { ...change, peers };
  return differences.length === 0 ? undefined : { change, differences };
}

function comparePeer(desired: DesiredWireguardPeer, observed: WireguardPeerState, options: WireguardDiffOptions): string[] {
  const differences: string[] = [];
  const want = new Set(desired.allowedIps.map((cidr) => cidr.masked().toString()));
  const have = new Set(observed.allowedIps.map((cidr) => cidr.masked().toString()));
  if (want.size !== have.size || [...want].some((cidr) => !have.has(cidr))) {
    differences.push(`allowed IPs ${[...have].join(',') || '(none)'}, want ${[...want].join(',')}`);
  }
  const pskMatches = desired.presharedKey ? desired.presharedKey.equals(observed.presharedKey) : observed.presharedKey === undefined;
  if (!pskMatches) differences.push('preshared key differs');
  if (desired.persistentKeepaliveSeconds !== observed.persistentKeepaliveSeconds) {
    differences.push(`keepalive ${observed.persistentKeepaliveSeconds}, want ${desired.persistentKeepaliveSeconds}`);
  }
  if (desired.endpoint && !sameEndpoint(desired.endpoint, observed.endpoint) && !roamed(desired, observed, options)) {
    differences.push(`endpoint ${observed.endpoint ? formatEndpoint(observed.endpoint) : '(none)'}, want ${formatEndpoint(desired.endpoint)}`);
  }
  return differences;
}

/** A settled peer whose session is alive on another endpoint (the peer roamed): not drift. */
function roamed(desired: DesiredWireguardPeer, observed: WireguardPeerState, options: WireguardDiffOptions): boolean {
  if (!observed.endpoint || !options.settledPeers?.has(desired.publicKey.toHex())) return false;
  const handshake = observed.lastHandshakeEpochMs;
  return handshake !== undefined && options.nowMs - handshake < SESSION_LIFETIME_MS;
}
