/**
 * WireguardControl over the kernel's generic netlink (family "wireguard"), for hosts whose kernel has
 * WireGuard. The family id is looked up once (the lookup also makes the kernel load the module if it can).
 * A device that does not exist is ENODEV from the kernel: undefined for getDevice, the error for
 * configureDevice. `kernelHasWireguard` is the probe behind Implementation `auto`.
 */
import type { WireguardControl, WireguardDeviceChange, WireguardDeviceState } from '../../backend/wireguard/wireguard-control.js';
import { FlannelError } from '../../support/errors.js';
import type { GenlFamily } from './genetlink-codec.js';
import { GenericNetlinkSocket } from './genetlink-socket.js';
import { WG_GENL_NAME, decodeDeviceDump, encodeGetDevice, encodeSetDevice } from './wireguard-genetlink-codec.js';

/** True when the kernel answers for the generic-netlink family "wireguard". */
export function kernelHasWireguard(options: { netnsPath?: string } = {}): boolean {
  const socket = GenericNetlinkSocket.open(options);
  try {
    return socket.resolveFamily(WG_GENL_NAME) !== undefined;
  } finally {
    socket.close();
  }
}

export class NetlinkWireguardControl implements WireguardControl {
  private family: GenlFamily | undefined;

  constructor(private readonly socket: GenericNetlinkSocket) {}

  static open(options: { netnsPath?: string } = {}): NetlinkWireguardControl {
    return new NetlinkWireguardControl(GenericNetlinkSocket.open(options));
  }

  async getDevice(name: string): Promise<WireguardDeviceState | undefined> {
    try {
      return decodeDeviceDump(this.socket.dump(this.familyId(), encodeGetDevice(name), `wireguard device ${name}: get`), name);
    } catch (error) {
      if (error instanceof FlannelError && error.code === 'ENODEV') return undefined;
      throw error;
    }
  }

  async configureDevice(name: string, change: WireguardDeviceChange): Promise<void> {
    const id = this.familyId();
    for (const payload of encodeSetDevice(name, change)) this.socket.request(id, payload, `wireguard device ${name}: set`);
  }

  close(): void {
    this.socket.close();
  }

  private familyId(): number {
    this.family ??= this.socket.resolveFamily(WG_GENL_NAME);
    if (!this.family) throw new FlannelError('WIREGUARD_UNAVAILABLE', 'this kernel has no WireGuard (no generic-netlink family "wireguard")');
    return this.family.id;
  }
}
