/**
 * What the wireguard data path publishes to the counter sink (DataPathContext.counters), as one flat record:
 * totals since start, and per device gauges from the last read-back. Pure: the results of a sync pass and the
 * wall-clock time in, numbers out.
 *
 * Keys:
 * - `syncPasses`, `syncFailures` (passes with a device that could not be read or configured), `repairs`
 *   (differences corrected: a peer missing, a peer not wanted, an allowed IP, a key…; a fresh device's first
 *   configuration counts too), `handshakeKicks` (peers kicked to start a session, wireguard-handshake-kick.ts),
 *   `wireguardGoStarts` (userspace: each wireguard-go that came up, restarts included);
 * - per device `<device>.peers`, `<device>.peersRecentHandshake` (handshake within 180 s: WireGuard rejects older
 *   sessions), `<device>.oldestHandshakeAgeSeconds` (among peers that had one; absent when none had),
 *   `<device>.rxBytes`, `<device>.txBytes` (sums over peers, as the device reports them).
 */
import type { WireguardDeviceState } from './wireguard-control.js';
import type { WireguardDeviceSyncResult } from './wireguard-sync.js';

/** WireGuard's REJECT_AFTER_TIME in seconds: a handshake older than this carries no session. */
const RECENT_HANDSHAKE_SECONDS = 180;

export interface WireguardTotals {
  syncPasses: number;
  syncFailures: number;
  repairs: number;
  handshakeKicks: number;
  wireguardGoStarts: number;
}

export function newWireguardTotals(): WireguardTotals {
  return { syncPasses: 0, syncFailures: 0, repairs: 0, handshakeKicks: 0, wireguardGoStarts: 0 };
}

/** Adds one pass's results to `totals` (mutated). */
export function countPass(totals: WireguardTotals, results: readonly WireguardDeviceSyncResult[]): void {
  totals.syncPasses++;
  if (results.some((result) => result.outcome === 'failed')) totals.syncFailures++;
  for (const result of results) {
    if (result.outcome === 'changed') totals.repairs += result.differences.length;
    totals.handshakeKicks += result.kicked ?? 0;
  }
}

/** The record to publish: the totals and, per device read in the last pass, its gauges. */
export function wireguardCounters(totals: WireguardTotals, devices: readonly WireguardDeviceState[], nowMs: number): Record<string, number> {
  const counters: Record<string, number> = { ...totals };
  for (const device of devices) {
    const ages = device.peers.flatMap((peer) => (peer.lastHandshakeEpochMs === undefined ? [] : [Math.max(0, (nowMs - peer.lastHandshakeEpochMs) / 1000)]));
    counters[`${device.name}.peers`] = device.peers.length;
    counters[`${device.name}.peersRecentHandshake`] = ages.filter((age) => age <= RECENT_HANDSHAKE_SECONDS).length;
    if (ages.length > 0) counters[`${device.name}.oldestHandshakeAgeSeconds`] = Math.round(Math.max(...ages));
    counters[`${device.name}.rxBytes`] = Number(device.peers.reduce((sum, peer) => sum + peer.rxBytes, 0n));
    counters[`${device.name}.txBytes`] = Number(device.peers.reduce((sum, peer) => sum + peer.txBytes, 0n));
  }
  return counters;
}
