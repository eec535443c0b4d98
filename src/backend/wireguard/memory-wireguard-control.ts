/**
 * An in-memory WireguardControl with the semantics the contract suite checks against a real wireguard-go:
 * devices exist only after `createDevice` (as a link would), a change applies in order, an allowed IP given to
 * one peer leaves any other peer of the device, allowed IPs are stored masked, a peer with the device's own
 * public key is ignored, removing or `updateOnly`-changing an unknown peer does nothing. `failNext` injects an
 * error for tests of the callers' retry paths. Unlike the real ones it applies a change atomically.
 */
import type { Cidr } from '../../net/ip.js';
import { FlannelError } from '../../support/errors.js';
import { type WireguardControl, type WireguardDeviceChange, type WireguardDeviceState, type WireguardPeerBuilder, type WireguardPeerChange, type WireguardPeerState, newPeerBuilder } from './wireguard-control.js';
import type { WireguardKey } from './wireguard-key.js';

interface MutableDevice {
  privateKey?: WireguardKey;
  listenPort: number;
  fwmark: number;
  peers: WireguardPeerBuilder[];
}

export class MemoryWireguardControl implements WireguardControl {
  private readonly devices = new Map<string, MutableDevice>();
  private failure: FlannelError | undefined;
  /** Every change applied, in order (for tests that count writes). */
  readonly changes: Array<{ name: string; change: WireguardDeviceChange }> = [];

  /** Makes a device exist, as creating the link (or starting wireguard-go) would. */
  createDevice(name: string, listenPort = 0): void {
    if (!this.devices.has(name)) this.devices.set(name, { listenPort, fwmark: 0, peers: [] });
  }

  deleteDevice(name: string): void {
    this.devices.delete(name);
  }

  /** The next configureDevice call fails with this error (and changes nothing). */
  failNext(error: FlannelError): void {
    this.failure = error;
  }

  /** Marks a peer as having completed a handshake at `epochMs` (tests of roaming tolerance). */
  recordHandshake(name: string, publicKey: WireguardKey, epochMs: number, endpoint?: WireguardPeerState['endpoint']): void {
    const peer = this.devices.get(name)?.peers.find((candidate) => candidate.publicKey.equals(publicKey));
    if (!peer) return;
    peer.lastHandshakeEpochMs = epochMs;
    if (endpoint) peer.endpoint = endpoint;
  }

  async getDevice(name: string): Promise<WireguardDeviceState | undefined> {
    const device = this.devices.get(name);
    if (!device) return undefined;
    return {
      name,
      ...(device.privateKey ? { privateKey: device.privateKey, publicKey: device.privateKey.publicKey() } : {}),
      listenPort: device.listenPort,
      fwmark: device.fwmark,
      peers: device.peers.map((peer) => ({
        publicKey: peer.publicKey,
        ...(peer.presharedKey ? { presharedKey: peer.presharedKey } : {}),
        ...(peer.endpoint ? { endpoint: peer.endpoint } : {}),
        persistentKeepaliveSeconds: peer.persistentKeepaliveSeconds,
        allowedIps: [...peer.allowedIps],
        ...(peer.lastHandshakeEpochMs !== undefined ? { lastHandshakeEpochMs: peer.lastHandshakeEpochMs } : {}),
        rxBytes: peer.rxBytes,
        txBytes: peer.txBytes,
      })),
    };
  }

  async configureDevice(name: string, change: WireguardDeviceChange): Promise<void> {
    const failure = this.failure;
    this.failure = undefined;
    if (failure) throw failure;
    const device = this.devices.get(name);
    if (!device) throw new FlannelError('ENODEV', `wireguard device ${name}: no such device`);
    if (change.listenPort !== undefined && (change.listenPort < 0 || change.listenPort > 65535)) {
      throw new FlannelError('EINVAL', `wireguard device ${name}: invalid listen port ${change.listenPort}`);
    }
    this.changes.push({ name, change });
    if (change.privateKey) device.privateKey = change.privateKey.isZero() ? undefined : change.privateKey;
    if (change.listenPort !== undefined) device.listenPort = change.listenPort;
    if (change.fwmark !== undefined) device.fwmark = change.fwmark;
    if (change.replacePeers) device.peers = [];
    const ownPublicKey = device.privateKey?.publicKey();
    for (const peerChange of change.peers ?? []) applyPeer(device, peerChange, ownPublicKey);
  }
}

function applyPeer(device: MutableDevice, change: WireguardPeerChange, ownPublicKey: WireguardKey | undefined): void {
  if (ownPublicKey?.equals(change.publicKey)) return;
  let peer = device.peers.find((candidate) => candidate.publicKey.equals(change.publicKey));
  if (change.remove) {
    if (peer) device.peers = device.peers.filter((candidate) => candidate !== peer);
    return;
  }
  if (!peer) {
    if (change.updateOnly) return;
    peer = newPeerBuilder(change.publicKey);
    device.peers.push(peer);
  }
  if (change.presharedKey === null || change.presharedKey?.isZero()) delete peer.presharedKey;
  else if (change.presharedKey) peer.presharedKey = change.presharedKey;
  if (change.endpoint) peer.endpoint = change.endpoint;
  if (change.persistentKeepaliveSeconds !== undefined) peer.persistentKeepaliveSeconds = change.persistentKeepaliveSeconds;
  if (change.replaceAllowedIps) peer.allowedIps = [];
  for (const allowed of change.allowedIps ?? []) {
    const masked = allowed.masked();
    for (const other of device.peers) other.allowedIps = other.allowedIps.filter((held) => !held.equals(masked));
    peer.allowedIps.push(masked);
  }
}
