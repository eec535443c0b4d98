/**
 * What this host offers for WireGuard, for chooseWireguardImplementation: whether the kernel answers for the
 * generic-netlink family "wireguard" (asking loads the module where one exists, as `ip link add … type
 * wireguard` would), and where the wireguard-go binary is (`$WG_QUICK_USERSPACE_IMPLEMENTATION`, as wg-quick
 * honours it, else `wireguard-go` on PATH). A kernel probe that fails (no netlink at all) counts as "no".
 */
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { WireguardHostSupport } from '../../backend/wireguard/wireguard-implementation.js';
import { kernelHasWireguard } from './netlink-wireguard-control.js';

export function probeWireguardSupport(env: Readonly<Record<string, string | undefined>> = process.env): WireguardHostSupport {
  let kernel: boolean;
  try {
    kernel = kernelHasWireguard();
  } catch {
    kernel = false;
  }
  const userspaceCommand = findExecutable(env.WG_QUICK_USERSPACE_IMPLEMENTATION || 'wireguard-go', env.PATH ?? '');
  return userspaceCommand ? { kernel, userspaceCommand } : { kernel };
}

/** The absolute path of `name` (a path is checked as it is), or undefined when it is not an executable file. */
export function findExecutable(name: string, path: string): string | undefined {
  const candidates = name.includes('/') ? [name] : path.split(delimiter).filter((dir) => dir !== '').map((dir) => join(dir, name));
  return candidates.find((candidate) => {
    try {
      accessSync(candidate, constants.X_OK);
      return statSync(candidate).isFile();
    } catch {
      return false;
    }
  });
}
