/**
 * The udp Backend options (reference §5.3): `Port` (default 8285), key case-insensitive as Go decodes it. The
 * udp backend carries IPv4 only, so a config that enables IPv6 (or disables IPv4) is refused: upstream would
 * start and leave every IPv6 pod unreachable from other hosts. With the external interface known, the device
 * MTU (interface MTU − 28) must leave a usable IPv4 MTU (the kernel refuses below 68). Pure.
 */
import type { NetworkConfig } from '../../config/network-config.js';
import { ValidationError } from '../../support/errors.js';
import { pickFields } from '../../support/json-fields.js';

export const UDP = 'udp';
/** upstream's default Port. */
export const UDP_DEFAULT_PORT = 8285;
/** The outer IPv4 and UDP headers: the TUN's MTU is the interface's minus this. */
export const UDP_OVERHEAD = 28;
const MIN_IPV4_MTU = 68;

export interface UdpOptions {
  /** Our UDP port and, as upstream, every peer's. */
  readonly port: number;
}

export function parseUdpOptions(backend: Readonly<Record<string, unknown>> | undefined): UdpOptions {
  const { options, problems } = decodeUdpOptions(backend);
  if (problems.length > 0) throw new ValidationError(problems, 'udp backend config');
  return options;
}

/** Every problem of a udp config; with `underlay` also the device MTU it leaves. */
export function checkUdpConfig(config: Pick<NetworkConfig, 'backend' | 'enableIPv4' | 'enableIPv6'>, underlay?: { name: string; mtu: number }): string[] {
  const { problems } = decodeUdpOptions(config.backend);
  if (config.enableIPv6 || !config.enableIPv4) {
    problems.push(`Backend.Type: udp carries IPv4 only; ${config.enableIPv4 ? 'EnableIPv6' : 'an IPv6-only network'} needs another backend (vxlan, host-gw or wireguard)`);
  }
  if (underlay && underlay.mtu - UDP_OVERHEAD < MIN_IPV4_MTU) {
    problems.push(`the MTU of ${underlay.name} (${underlay.mtu}) leaves ${underlay.mtu - UDP_OVERHEAD} for the udp device, below the kernel's minimum of ${MIN_IPV4_MTU} (MTU at least ${MIN_IPV4_MTU + UDP_OVERHEAD})`);
  }
  return problems;
}

function decodeUdpOptions(backend: Readonly<Record<string, unknown>> | undefined): { options: UdpOptions; problems: string[] } {
  const value = pickFields(backend ?? {}, ['Port'] as const).Port;
  if (value === undefined || value === null) return { options: { port: UDP_DEFAULT_PORT }, problems: [] };
  // Port 0 would bind a random port, and peers send to their own Port: nobody could reach us.
  if (typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 65535) return { options: { port: value }, problems: [] };
  return { options: { port: UDP_DEFAULT_PORT }, problems: [`Backend.Port: expected an integer in 1..65535 (peers send to the Port they are configured with), got ${JSON.stringify(value)}`] };
}
