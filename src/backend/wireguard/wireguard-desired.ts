/**
 * Desired WireGuard state as plain data. A device is the device union's WireguardDevice (dataplane/devices.ts:
 * name, MTU, implementation — what the reconciler creates or waits for) plus what the WireguardControl port sets
 * on it (private key, listen port); the plan's devices are these, so one object serves the reconciler and the
 * data path. Peers: one desired peer per lease and device. The data path reads each device back, diffs it
 * (diffWireguardDevice) and repairs it like routes (wireguard-data-path.ts).
 */
import type { WireguardDevice } from '../../dataplane/devices.js';
import type { Cidr } from '../../net/ip.js';
import type { WireguardEndpoint } from './wireguard-control.js';
import type { WireguardKey } from './wireguard-key.js';

/** A WireGuard device flannel-ts owns (`flannel-wg`, `flannel-wg-v6`), with its key and port. */
export interface WireguardDeviceConfig extends WireguardDevice {
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
