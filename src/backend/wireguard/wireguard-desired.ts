/**
 * Desired WireGuard state as plain data, for the device union and the per-peer groups of DesiredState: a device
 * (link name and MTU, plus the configuration the WireguardControl port sets: private key and listen port) and
 * one desired peer per lease and device. The reconciler reads each device back, diffs it
 * (diffWireguardDevice) and repairs it like routes.
 */
import type { Cidr } from '../../net/ip.js';
import type { WireguardEndpoint } from './wireguard-control.js';
import type { WireguardKey } from './wireguard-key.js';

/** A WireGuard device flannel-ts owns (`flannel-wg`, `flannel-wg-v6`). */
export interface WireguardDevice {
  readonly kind: 'wireguard';
  readonly name: string;
  readonly mtu: number;
  readonly listenPort: number;
  readonly privateKey: WireguardKey;
}

/** One peer of one of our devices, as a lease asks for it. */
export interface DesiredWireguardPeer {
  readonly linkName: string;
  readonly publicKey: WireguardKey;
  readonly presharedKey?: WireguardKey;
  /** Absent when the lease gives no address of the family the mode picks (the peer can still reach us). */
  readonly endpoint?: WireguardEndpoint;
  readonly persistentKeepaliveSeconds: number;
  /** The peer's subnet(s): exactly what may arrive from it and be sent to it. */
  readonly allowedIps: readonly Cidr[];
}
