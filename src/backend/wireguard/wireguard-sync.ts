/**
 * One reconcile pass over the WireGuard side of desired state, for the reconciler to call after it has handled
 * links: for each desired WireGuard device, read it back through the WireguardControl port, diff it
 * (diffWireguardDevice) and apply the change. It remembers, per device and peer, the endpoint it last applied,
 * which is what lets the diff tolerate a peer that roamed away from that endpoint on a live session, while a
 * lease whose endpoint changed is always applied. Failures are returned, never thrown: the reconciler retries
 * them on its next pass (a half-applied change is read back and finished then).
 *
 * A device the port does not know (not created yet, or wireguard-go restarting) is reported `missing`; the
 * reconciler creates the link (kernel implementation) or waits for the supervisor's `onReady` (userspace).
 *
 * Peers that never completed a handshake are kicked in the same change (wireguard-handshake-kick.ts), so a
 * joining host or a restarted wireguard-go has its sessions in one round trip, not after WireGuard's 5 s retry.
 */
import { errorMessage } from '../../support/errors.js';
import { type WireguardControl, type WireguardDeviceState, formatEndpoint, sameEndpoint } from './wireguard-control.js';
import type { DesiredWireguardPeer, WireguardDeviceConfig } from './wireguard-desired.js';
import { diffWireguardDevice } from './wireguard-device-diff.js';
import { handshakeKicks } from './wireguard-handshake-kick.js';

export interface WireguardDeviceSyncResult {
  readonly device: string;
  readonly outcome: 'in-sync' | 'changed' | 'missing' | 'failed';
  /** What differed (no secrets), when something did. */
  readonly differences: readonly string[];
  readonly error?: Error;
  /** The device as read at the start of the pass (peers' handshake times and byte counts), when it could be read. */
  readonly observed?: WireguardDeviceState;
  /** Peers kicked to start a handshake (see wireguard-handshake-kick.ts). */
  readonly kicked?: number;
}

export class WireguardSync {
  /** device → peer key (hex) → endpoint text last applied (or found in place). */
  private readonly applied = new Map<string, Map<string, string>>();

  constructor(private readonly control: WireguardControl) {}

  async sync(devices: readonly WireguardDeviceConfig[], peers: readonly DesiredWireguardPeer[], nowMs: number): Promise<WireguardDeviceSyncResult[]> {
    const results: WireguardDeviceSyncResult[] = [];
    for (const device of devices) results.push(await this.syncDevice(device, peers.filter((peer) => peer.linkName === device.name), nowMs));
    for (const name of [...this.applied.keys()]) if (!devices.some((device) => device.name === name)) this.applied.delete(name);
    return results;
  }

  private async syncDevice(device: WireguardDeviceConfig, peers: readonly DesiredWireguardPeer[], nowMs: number): Promise<WireguardDeviceSyncResult> {
    let observed: WireguardDeviceState | undefined;
    try {
      observed = await this.control.getDevice(device.name);
    } catch (error) {
      return { device: device.name, outcome: 'failed', differences: [], error: error instanceof Error ? error : new Error(errorMessage(error)) };
    }
    if (!observed) {
      this.applied.delete(device.name);
      return { device: device.name, outcome: 'missing', differences: [] };
    }
    const applied = this.applied.get(device.name) ?? new Map<string, string>();
    this.applied.set(device.name, applied);
    const settledPeers = new Set(peers.filter((peer) => peer.endpoint && applied.get(peer.publicKey.toHex()) === formatEndpoint(peer.endpoint)).map((peer) => peer.publicKey.toHex()));
    const diff = diffWireguardDevice(device, peers, observed, { nowMs, settledPeers });
    const observedByKey = new Map(observed.peers.map((peer) => [peer.publicKey.toHex(), peer]));
    const changedEndpoints = new Set((diff?.change.peers ?? []).filter((change) => change.endpoint).map((change) => change.publicKey.toHex()));
    const kicks = handshakeKicks(peers, observed);
    if (diff || kicks.length > 0) {
      try {
        await this.control.configureDevice(device.name, { ...diff?.change, peers: [...(diff?.change.peers ?? []), ...kicks] });
      } catch (error) {
        return { device: device.name, outcome: 'failed', differences: diff?.differences ?? [], error: error instanceof Error ? error : new Error(errorMessage(error)), observed };
      }
    }
    const wanted = new Set<string>();
    for (const peer of peers) {
      const key = peer.publicKey.toHex();
      wanted.add(key);
      if (peer.endpoint && (changedEndpoints.has(key) || sameEndpoint(peer.endpoint, observedByKey.get(key)?.endpoint))) applied.set(key, formatEndpoint(peer.endpoint));
    }
    for (const key of [...applied.keys()]) if (!wanted.has(key)) applied.delete(key);
    return { device: device.name, outcome: diff ? 'changed' : 'in-sync', differences: diff?.differences ?? [], observed, kicked: kicks.length / 2 };
  }
}
