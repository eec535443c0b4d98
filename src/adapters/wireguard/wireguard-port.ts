/**
 * The WireguardPort flanneld gives the wireguard backend: the host support probe, the key file
 * (WIREGUARD_KEY_FILE or /run/flannel/wgkey), the generic-netlink control (opened on first use, one socket for
 * the daemon's lifetime) or wireguard-go's UAPI control, and a WireguardGoSupervisor per userspace device.
 */
import type { WireguardPort } from '../../backend/data-path-ports.js';
import { NetlinkWireguardControl } from './netlink-wireguard-control.js';
import { UapiWireguardControl } from './uapi-wireguard-control.js';
import { WireguardGoSupervisor } from './wireguard-go-supervisor.js';
import { probeWireguardSupport } from './wireguard-host-support.js';
import { loadOrCreateWireguardKey, wireguardKeyFilePath } from './wireguard-key-file.js';

export function createWireguardPort(env: Readonly<Record<string, string | undefined>> = process.env): WireguardPort {
  let kernel: NetlinkWireguardControl | undefined;
  const userspace = new UapiWireguardControl();
  return {
    hostSupport: () => probeWireguardSupport(env),
    loadPrivateKey: () => loadOrCreateWireguardKey(wireguardKeyFilePath(env)),
    control: (implementation) => (implementation === 'kernel' ? (kernel ??= NetlinkWireguardControl.open()) : userspace),
    runUserspace: ({ device, command, logger, onReady, onExit }, signal) =>
      new WireguardGoSupervisor({ device, command, logger, onReady, onExit }).run(signal),
  };
}
