/**
 * Starting sessions at once instead of after WireGuard's 5 s retry. A peer that never completed a handshake
 * with us — just added, or every peer of a wireguard-go that was restarted — gets a "kick": its persistent
 * keepalive switched on and back to the configured value in one change. Switching it on makes WireGuard send a
 * keepalive right away (both the kernel and wireguard-go do, when the device is up), and with no session that
 * keepalive starts a handshake.
 *
 * Why it matters: when a host joins, its peers see its lease within milliseconds and send it a handshake before
 * its own device is up; that one is lost, and WireGuard waits REKEY_TIMEOUT (5 s) before it tries again — so a
 * new host answered its first ping after ~5 s (measured, bench/wireguard-dataplane.ts). The new host kicking its
 * peers once its device is up makes the session in one round trip. A kick while the device is down sends
 * nothing (and costs nothing: WireGuard's own 5 s limit on initiations only starts with one actually sent), so
 * peers are kicked on every pass until they completed a handshake; WireGuard itself never sends initiations to
 * one peer more often than every 5 s. A peer that had a session once is left to WireGuard. Pure.
 */
import type { WireguardDeviceState, WireguardPeerChange } from './wireguard-control.js';
import type { DesiredWireguardPeer } from './wireguard-desired.js';

/** The peer changes that kick the desired peers (with an endpoint to send to) that never completed a handshake. */
export function handshakeKicks(desired: readonly DesiredWireguardPeer[], observed: WireguardDeviceState): WireguardPeerChange[] {
  const handshaken = new Set(observed.peers.filter((peer) => peer.lastHandshakeEpochMs !== undefined).map((peer) => peer.publicKey.toHex()));
  return desired.filter((peer) => peer.endpoint !== undefined && !handshaken.has(peer.publicKey.toHex())).flatMap((peer) => {
    const wanted = peer.persistentKeepaliveSeconds;
    // Off → on is what sends: 1 then back to 0, or 0 then back to the configured interval.
    return [wanted === 0 ? 1 : 0, wanted].map((seconds): WireguardPeerChange => ({ publicKey: peer.publicKey, updateOnly: true, persistentKeepaliveSeconds: seconds }));
  });
}
