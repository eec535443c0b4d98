/**
 * The vxlan Backend options (reference §5.1): VNI (default 1), Port (0 → the kernel's 8472), MTU (default the
 * external interface's), GBP, Learning, DirectRouting; keys case-insensitive as upstream. Every problem is
 * reported at once, naming the field and the value. Pure.
 *
 * `checkVxlanConfig` also rejects what the kernel would refuse on every reconcile pass, as far as the config
 * alone tells: a device name longer than IFNAMSIZ − 1 (`flannel.16777215` is 16 characters) and a device MTU
 * below the kernel's minimum (68, and 1280 for the IPv6 device, which needs IPv6 enabled on it).
 */
import type { NetworkConfig } from '../../config/network-config.js';
import type { IpFamily } from '../../net/ip.js';
import { ValidationError } from '../../support/errors.js';
import { pickFields } from '../../support/json-fields.js';

export interface VxlanOptions {
  readonly vni: number;
  readonly port: number;
  readonly mtu?: number;
  readonly gbp: boolean;
  readonly learning: boolean;
  readonly directRouting: boolean;
}

export const VXLAN_DEFAULT_PORT = 8472;
/** Bytes of outer headers per family of the underlay (Ethernet + IP + UDP + VXLAN). */
export const VXLAN_OVERHEAD: Readonly<Record<IpFamily, number>> = { 4: 50, 6: 70 };
/** The longest interface name the kernel accepts (IFNAMSIZ 16, including the terminating NUL). */
export const MAX_DEVICE_NAME_LENGTH = 15;
/** The smallest device MTU the kernel accepts (ETH_MIN_MTU), and what an IPv6 device needs (IPV6_MIN_MTU). */
const MIN_DEVICE_MTU: Readonly<Record<IpFamily, number>> = { 4: 68, 6: 1280 };
const FIELDS = ['Type', 'VNI', 'Port', 'MTU', 'GBP', 'Learning', 'DirectRouting'] as const;

export function vxlanDeviceName(family: IpFamily, vni: number): string {
  return family === 4 ? `flannel.${vni}` : `flannel-v6.${vni}`;
}

/** Decodes the options; throws a ValidationError listing every bad field. */
export function parseVxlanOptions(backend: Readonly<Record<string, unknown>> | undefined): VxlanOptions {
  const { options, problems } = decodeVxlanOptions(backend);
  if (problems.length > 0) throw new ValidationError(problems, 'vxlan backend config');
  return options;
}

/**
 * Every problem of a vxlan config that the config alone reveals (bad options, device names too long, device
 * MTUs too small). `underlayMtu` (the external interface's MTU, known at start) adds the checks against it:
 * Backend.MTU above it, or its default too small.
 */
export function checkVxlanConfig(config: Pick<NetworkConfig, 'backend' | 'enableIPv4' | 'enableIPv6'>, underlay?: { name: string; mtu: number }): string[] {
  const { options, problems } = decodeVxlanOptions(config.backend);
  if (problems.length > 0) return problems;
  const families = ([4, 6] as const).filter((family) => (family === 4 ? config.enableIPv4 : config.enableIPv6));
  for (const family of families) {
    const name = vxlanDeviceName(family, options.vni);
    if (name.length > MAX_DEVICE_NAME_LENGTH) {
      const largest = 10 ** (MAX_DEVICE_NAME_LENGTH - vxlanDeviceName(family, 0).length + 1) - 1;
      problems.push(`Backend.VNI: ${options.vni} makes the device name ${name} (${name.length} characters); the kernel allows at most ${MAX_DEVICE_NAME_LENGTH} (VNI at most ${largest}${family === 6 ? ' with IPv6' : ''})`);
    }
  }
  const baseMtu = options.mtu ?? underlay?.mtu;
  if (options.mtu !== undefined && underlay && options.mtu > underlay.mtu) {
    problems.push(`Backend.MTU: ${options.mtu} is above the MTU of ${underlay.name} (${underlay.mtu}); the kernel refuses a vxlan device larger than its underlay allows`);
  } else if (baseMtu !== undefined) {
    const source = options.mtu !== undefined ? `Backend.MTU: ${options.mtu}` : `the MTU of ${underlay?.name} (${baseMtu})`;
    for (const family of families) {
      const deviceMtu = baseMtu - VXLAN_OVERHEAD[family];
      if (deviceMtu < MIN_DEVICE_MTU[family]) {
        problems.push(`${source} leaves ${deviceMtu} for ${vxlanDeviceName(family, options.vni)}, below ${family === 6 ? "IPv6's" : "the kernel's"} minimum of ${MIN_DEVICE_MTU[family]} (MTU at least ${MIN_DEVICE_MTU[family] + VXLAN_OVERHEAD[family]})`);
      }
    }
  }
  return problems;
}

function decodeVxlanOptions(backend: Readonly<Record<string, unknown>> | undefined): { options: VxlanOptions; problems: string[] } {
  const raw = pickFields(backend ?? {}, FIELDS);
  const problems: string[] = [];
  const integer = (field: (typeof FIELDS)[number], min: number, max: number): number | undefined => {
    const value = raw[field];
    if (value === undefined || value === null) return undefined;
    if (typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max) return value;
    problems.push(`Backend.${field}: expected an integer in ${min}..${max}, got ${JSON.stringify(value)}`);
    return undefined;
  };
  const bool = (field: (typeof FIELDS)[number]): boolean => {
    const value = raw[field];
    if (value === undefined || value === null) return false;
    if (typeof value === 'boolean') return value;
    problems.push(`Backend.${field}: expected true or false, got ${JSON.stringify(value)}`);
    return false;
  };
  const vni = integer('VNI', 0, 0xffffff) ?? 1;
  const port = integer('Port', 0, 65535) || VXLAN_DEFAULT_PORT;
  const mtu = integer('MTU', 68, 65535);
  const options = { vni, port, gbp: bool('GBP'), learning: bool('Learning'), directRouting: bool('DirectRouting') };
  return { options: mtu === undefined ? options : { ...options, mtu }, problems };
}
