/**
 * The wireguard Backend options (reference §5.5), with upstream's defaults: ListenPort 51820, ListenPortV6 51821,
 * MTU = the external interface's, PSK none, PersistentKeepaliveInterval 0 (seconds), Mode `separate`. Keys are
 * case-insensitive as Go decodes them; Mode values are case-sensitive as upstream compares them (anything else is
 * upstream's "no valid Mode configured"). Every problem is reported at once, naming the field and the value.
 *
 * One key of our own: `Implementation` — `auto` (default: the kernel's WireGuard when this kernel has it, else a
 * wireguard-go process, as wg-quick falls back), `kernel` or `userspace` to force one. It is a Backend key
 * because it belongs with the other WireGuard settings, `flannelctl config check` validates it, and upstream
 * flanneld ignores unknown Backend keys, so a mixed cluster can share the config; `auto` copes with hosts whose
 * kernels differ. Forcing is for hosts whose module is known bad, and for tests.
 *
 * Stricter than upstream where upstream's value cannot work: ListenPort 0 (the kernel would pick a random port
 * that peers cannot know), a keepalive outside WireGuard's 16-bit seconds, separate mode with one port for both
 * devices (the second device could not bind), and a device MTU (MTU − 80) below the kernel's minimum (68, and
 * 1280 on a device that carries IPv6). Pure.
 */
import type { NetworkConfig } from '../../config/network-config.js';
import { ValidationError } from '../../support/errors.js';
import { pickFields } from '../../support/json-fields.js';
import { WireguardKey } from './wireguard-key.js';

export type WireguardMode = 'separate' | 'auto' | 'ipv4' | 'ipv6';
export type WireguardImplementation = 'auto' | 'kernel' | 'userspace';

export interface WireguardOptions {
  readonly listenPort: number;
  readonly listenPortV6: number;
  /** Backend.MTU: the underlay MTU to plan with (default: the external interface's). */
  readonly mtu?: number;
  /** Kept out of logs: WireguardKey has no JSON form. */
  readonly psk?: WireguardKey;
  readonly persistentKeepaliveSeconds: number;
  readonly mode: WireguardMode;
  readonly implementation: WireguardImplementation;
}

export const WIREGUARD = 'wireguard';
export const WIREGUARD_DEVICE = 'flannel-wg';
export const WIREGUARD_DEVICE_V6 = 'flannel-wg-v6';
/** Outer IPv6 (40) + UDP (8) + WireGuard header (16) + tag (16): upstream's one figure for both families. */
export const WIREGUARD_OVERHEAD = 80;
const MODES: readonly WireguardMode[] = ['separate', 'auto', 'ipv4', 'ipv6'];
const IMPLEMENTATIONS: readonly WireguardImplementation[] = ['auto', 'kernel', 'userspace'];
const MIN_MTU_IPV4 = 68;
const MIN_MTU_IPV6 = 1280;
const FIELDS = ['ListenPort', 'ListenPortV6', 'MTU', 'PSK', 'PersistentKeepaliveInterval', 'Mode', 'Implementation'] as const;
type Field = (typeof FIELDS)[number];

/** Decodes the options; throws a ValidationError listing every bad field. */
export function parseWireguardOptions(backend: Readonly<Record<string, unknown>> | undefined): WireguardOptions {
  const { options, problems } = decodeWireguardOptions(backend);
  if (problems.length > 0) throw new ValidationError(problems, 'wireguard backend config');
  return options;
}

/**
 * Every problem of a wireguard config the config alone reveals; with `underlay` (the external interface, known
 * at start) also the MTU checks against its MTU when Backend.MTU is not given.
 */
export function checkWireguardConfig(config: Pick<NetworkConfig, 'backend' | 'enableIPv4' | 'enableIPv6'>, underlay?: { name: string; mtu: number }): string[] {
  const { options, problems } = decodeWireguardOptions(config.backend);
  if (problems.length > 0) return problems;
  if (options.mode === 'separate' && config.enableIPv4 && config.enableIPv6 && options.listenPort === options.listenPortV6) {
    problems.push(`Backend.ListenPortV6: ${options.listenPortV6} is also ListenPort; in separate mode ${WIREGUARD_DEVICE} and ${WIREGUARD_DEVICE_V6} each need a port of their own`);
  }
  const baseMtu = options.mtu ?? underlay?.mtu;
  if (baseMtu !== undefined) {
    const source = options.mtu !== undefined ? `Backend.MTU: ${options.mtu}` : `the MTU of ${underlay?.name} (${baseMtu})`;
    for (const device of wireguardDevices(options.mode, config)) {
      const minimum = device.carriesIpv6 ? MIN_MTU_IPV6 : MIN_MTU_IPV4;
      const deviceMtu = baseMtu - WIREGUARD_OVERHEAD;
      if (deviceMtu < minimum) {
        problems.push(`${source} leaves ${deviceMtu} for ${device.name}, below ${device.carriesIpv6 ? "IPv6's" : "the kernel's"} minimum of ${minimum} (MTU at least ${minimum + WIREGUARD_OVERHEAD})`);
      }
    }
  }
  return problems;
}

/** The devices a mode creates for the enabled families, with the port each listens on. */
export function wireguardDevices(
  mode: WireguardMode,
  config: Pick<NetworkConfig, 'enableIPv4' | 'enableIPv6'>,
  ports: { listenPort: number; listenPortV6: number } = { listenPort: 0, listenPortV6: 0 },
): Array<{ name: string; listenPort: number; carriesIpv4: boolean; carriesIpv6: boolean }> {
  if (mode !== 'separate') {
    return [{ name: WIREGUARD_DEVICE, listenPort: ports.listenPort, carriesIpv4: config.enableIPv4, carriesIpv6: config.enableIPv6 }];
  }
  const devices = [];
  if (config.enableIPv4) devices.push({ name: WIREGUARD_DEVICE, listenPort: ports.listenPort, carriesIpv4: true, carriesIpv6: false });
  if (config.enableIPv6) devices.push({ name: WIREGUARD_DEVICE_V6, listenPort: ports.listenPortV6, carriesIpv4: false, carriesIpv6: true });
  return devices;
}

function decodeWireguardOptions(backend: Readonly<Record<string, unknown>> | undefined): { options: WireguardOptions; problems: string[] } {
  const raw = pickFields(backend ?? {}, FIELDS);
  const problems: string[] = [];
  const present = (field: Field): boolean => raw[field] !== undefined && raw[field] !== null;
  const integer = (field: Field, min: number, max: number, fallback: number, why = ''): number => {
    if (!present(field)) return fallback;
    const value = raw[field];
    if (typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max) return value;
    problems.push(`Backend.${field}: expected an integer in ${min}..${max}${why}, got ${JSON.stringify(value)}`);
    return fallback;
  };
  const choice = <T extends string>(field: Field, allowed: readonly T[], fallback: T, upstreamText: string): T => {
    if (!present(field)) return fallback;
    const value = raw[field];
    if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T;
    problems.push(`Backend.${field}: ${upstreamText}: got ${JSON.stringify(value)}, expected one of ${allowed.join(', ')}`);
    return fallback;
  };
  const portWhy = ' (0 would let the kernel pick a random port peers cannot know)';
  const listenPort = integer('ListenPort', 1, 65535, 51820, portWhy);
  const listenPortV6 = integer('ListenPortV6', 1, 65535, 51821, portWhy);
  const mtu = present('MTU') ? integer('MTU', MIN_MTU_IPV4 + WIREGUARD_OVERHEAD, 65535, 0) : undefined;
  const persistentKeepaliveSeconds = integer('PersistentKeepaliveInterval', 0, 65535, 0, ' seconds');
  const mode = choice('Mode', MODES, 'separate', 'no valid Mode configured');
  const implementation = choice('Implementation', IMPLEMENTATIONS, 'auto', 'no valid Implementation configured');
  let psk: WireguardKey | undefined;
  if (present('PSK')) {
    const value = raw.PSK;
    if (typeof value !== 'string') problems.push(`Backend.PSK: expected a base64 key (wg genpsk), got ${JSON.stringify(value)}`);
    else if (value !== '') {
      const parsed = WireguardKey.tryParse(value);
      // The reason only: the value is a secret.
      if (typeof parsed === 'string') problems.push(`Backend.PSK: could not parse psk: ${parsed}`);
      else psk = parsed;
    }
  }
  const options: WireguardOptions = {
    listenPort, listenPortV6, persistentKeepaliveSeconds, mode, implementation,
    ...(mtu !== undefined && mtu > 0 ? { mtu } : {}),
    ...(psk ? { psk } : {}),
  };
  return { options, problems };
}
