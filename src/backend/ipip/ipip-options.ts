/**
 * The ipip Backend options (reference §5.4): `DirectRouting` (default false), key case-insensitive as Go
 * decodes it. ipip carries IPv4 only, so a config that enables IPv6 (or disables IPv4) is refused: upstream
 * would start and leave every IPv6 pod unreachable from other hosts. With the external interface known,
 * upstream's MTU check too: the device MTU (interface MTU − 20) must leave a usable IPv4 MTU (upstream only
 * refuses ≤ 0; the kernel refuses below 68). Pure.
 */
import type { NetworkConfig } from '../../config/network-config.js';
import { ValidationError } from '../../support/errors.js';
import { pickFields } from '../../support/json-fields.js';

export const IPIP = 'ipip';
export const IPIP_DEVICE = 'flannel.ipip';
/** The outer IPv4 header. */
export const IPIP_OVERHEAD = 20;
const MIN_IPV4_MTU = 68;

export interface IpipOptions {
  readonly directRouting: boolean;
}

export function parseIpipOptions(backend: Readonly<Record<string, unknown>> | undefined): IpipOptions {
  const { options, problems } = decodeIpipOptions(backend);
  if (problems.length > 0) throw new ValidationError(problems, 'ipip backend config');
  return options;
}

/** Every problem of an ipip config; with `underlay` also upstream's "too small" MTU check. */
export function checkIpipConfig(config: Pick<NetworkConfig, 'backend' | 'enableIPv4' | 'enableIPv6'>, underlay?: { name: string; mtu: number }): string[] {
  const { problems } = decodeIpipOptions(config.backend);
  if (config.enableIPv6 || !config.enableIPv4) {
    problems.push(`Backend.Type: ipip carries IPv4 only; ${config.enableIPv4 ? 'EnableIPv6' : 'an IPv6-only network'} needs another backend (vxlan, host-gw or wireguard)`);
  }
  if (underlay && underlay.mtu - IPIP_OVERHEAD < MIN_IPV4_MTU) problems.push(ipipMtuProblem(underlay));
  return problems;
}

/** upstream's wording, kept. */
export function ipipMtuProblem(underlay: { name: string; mtu: number }): string {
  return `MTU ${underlay.mtu} of iface ${underlay.name} is too small for ipip mode to work`;
}

function decodeIpipOptions(backend: Readonly<Record<string, unknown>> | undefined): { options: IpipOptions; problems: string[] } {
  const value = pickFields(backend ?? {}, ['DirectRouting'] as const).DirectRouting;
  if (value === undefined || value === null || typeof value === 'boolean') return { options: { directRouting: value === true }, problems: [] };
  return { options: { directRouting: false }, problems: [`Backend.DirectRouting: expected true or false, got ${JSON.stringify(value)}`] };
}
