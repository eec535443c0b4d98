/**
 * What the lab does differently per backend, pure:
 * - extension: without Backend options of the caller's, a host-gw-like network built from shell-free commands
 *   (a route per peer through its public IP), a PreStartupCommand whose output becomes BackendData, and a
 *   PostStartupCommand that needs the lease's variables;
 * - wireguard: wireguard-go's UAPI directory is fixed (/run/wireguard) and the lab's hosts share one
 *   filesystem, so each flanneld sees the host's own directory there: `<host dir>/wireguard` bind-mounted over
 *   /run/wireguard in the mount namespace `ip netns exec` already made for it (mounts there do not propagate
 *   back). The directory outlives the process, as /run/wireguard does on a real host, so a restarted flanneld
 *   finds (and adopts) the wireguard-go its SIGKILLed predecessor left. Each host has a key file of its own too
 *   (WIREGUARD_KEY_FILE in the host's directory). `wg` has to enter flanneld's mount namespace
 *   (`nsenter -m -n -t <flanneld pid> wg show`, Lab.inFlanneld).
 */
import { join } from 'node:path';

/** The extension lab: host-gw built from commands (SUBNET and PUBLIC_IP come from each peer's lease). */
export const LAB_EXTENSION_OPTIONS: Readonly<Record<string, string>> = {
  PreStartupCommand: 'ip -brief -4 address show dev eth0',
  PostStartupCommand: 'ip route replace blackhole $SUBNET metric 4000',
  SubnetAddCommand: 'ip route replace $SUBNET via $PUBLIC_IP dev eth0',
  SubnetRemoveCommand: 'ip route del $SUBNET via $PUBLIC_IP dev eth0',
};

/** The Backend options the lab puts into the network config when the caller gives none. */
export function defaultLabBackendOptions(backend: string): Readonly<Record<string, unknown>> {
  return backend === 'extension' ? LAB_EXTENSION_OPTIONS : {};
}

export interface LabCommand {
  readonly command: string;
  readonly args: readonly string[];
  /** Added to the lab's environment. */
  readonly env: Readonly<Record<string, string>>;
}

/** How the lab starts one host's flanneld (`command args` inside the host's namespace) for this backend. */
export function flanneldLaunch(backend: string, hostDir: string, command: string, args: readonly string[]): LabCommand {
  if (backend !== 'wireguard') return { command, args, env: {} };
  const script = 'mkdir -p /run/wireguard "$WG_LAB_DIR" && mount --bind "$WG_LAB_DIR" /run/wireguard && exec "$0" "$@"';
  return { command: 'sh', args: ['-c', script, command, ...args], env: { WG_LAB_DIR: join(hostDir, 'wireguard'), WIREGUARD_KEY_FILE: join(hostDir, 'wgkey') } };
}
