/**
 * Which WireGuard device implementation a host uses, from Backend.Implementation and what the host offers —
 * the decision wg-quick makes (kernel module, else `wireguard-go`), made once at start and logged. Pure: the
 * adapters probe (the genetlink family "wireguard", the wireguard-go binary) and pass the answers in.
 *
 * With the kernel's implementation the reconciler creates `flannel-wg` as a link of kind `wireguard`; with
 * wireguard-go the supervised process creates it, as a TUN device (link kind `tun`), and the reconciler only
 * configures it once it exists.
 */
import { FlannelError } from '../../support/errors.js';
import type { WireguardImplementation } from './wireguard-options.js';

export type ChosenWireguardImplementation = 'kernel' | 'userspace';

export interface WireguardHostSupport {
  /** The kernel answers for the generic-netlink family "wireguard" (loading the module if it can). */
  readonly kernel: boolean;
  /** The wireguard-go binary that would be started, when found. */
  readonly userspaceCommand?: string;
}

/** The implementation to use; throws FlannelError('WIREGUARD_UNAVAILABLE') saying what is missing. */
export function chooseWireguardImplementation(wanted: WireguardImplementation, host: WireguardHostSupport): ChosenWireguardImplementation {
  const noKernel = 'this kernel has no WireGuard (no generic-netlink family "wireguard"; Linux ≥ 5.6 has it built in, older kernels need the wireguard module)';
  const noUserspace = 'wireguard-go is not installed (Debian: apt-get install --no-install-recommends wireguard-go)';
  if (wanted === 'kernel') {
    if (host.kernel) return 'kernel';
    throw new FlannelError('WIREGUARD_UNAVAILABLE', `Backend.Implementation is "kernel" but ${noKernel}`);
  }
  if (wanted === 'userspace') {
    if (host.userspaceCommand) return 'userspace';
    throw new FlannelError('WIREGUARD_UNAVAILABLE', `Backend.Implementation is "userspace" but ${noUserspace}`);
  }
  if (host.kernel) return 'kernel';
  if (host.userspaceCommand) return 'userspace';
  throw new FlannelError('WIREGUARD_UNAVAILABLE', `no WireGuard implementation: ${noKernel}, and ${noUserspace}`);
}
