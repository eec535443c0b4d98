/**
 * The delegate network config the flannel CNI plugin hands to `bridge` (reference §9.3), pure:
 * name from the netconf; type bridge unless the delegate says otherwise; ipMasq = !FLANNEL_IPMASQ, mtu =
 * FLANNEL_MTU and isGateway (bridge only) unless set; the netconf's cniVersion and runtimeConfig; ipam =
 * the netconf's ipam (unknown keys kept) with type host-local by default, `ranges` = our subnets (v4 first)
 * and `routes` = the given routes followed by one per cluster network.
 */
import { isJsonObject } from '../support/json-fields.js';
import type { SubnetEnv } from './subnet-env.js';

/** A CNI error result: spec error code, short message and optional details (CNI spec "Error"). */
export class CniConfigError extends Error {
  constructor(
    readonly cniCode: number,
    message: string,
    readonly details?: string,
  ) {
    super(message);
  }
}

/** CNI spec error codes used here. */
export const CNI_ERROR = {
  incompatibleVersion: 1,
  unknownContainer: 3,
  invalidEnvironment: 4,
  ioFailure: 5,
  decodeFailure: 6,
  invalidConfig: 7,
  tryAgainLater: 11,
  internal: 999,
} as const;

export interface FlannelNetConf {
  readonly cniVersion: string;
  readonly name: string;
  readonly subnetFile: string;
  readonly dataDir: string;
  readonly delegate: Record<string, unknown>;
  readonly ipam?: Record<string, unknown>;
  readonly runtimeConfig?: unknown;
}

export const DEFAULT_SUBNET_FILE = '/run/flannel/subnet.env';
export const DEFAULT_DATA_DIR = '/var/lib/cni/flannel';

/** The config as a JSON object, or CniConfigError(decodeFailure) starting with `context`. */
export function decodeNetConfObject(text: string, context: string): Record<string, unknown> {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    throw new CniConfigError(CNI_ERROR.decodeFailure, `${context}: ${(error as Error).message}`);
  }
  if (!isJsonObject(document)) throw new CniConfigError(CNI_ERROR.decodeFailure, `${context}: not a JSON object`);
  return document;
}

export function parseNetConf(text: string): FlannelNetConf {
  const document = decodeNetConfObject(text, 'failed to load netconf');
  const field = <T>(key: string, check: (value: unknown) => value is T, what: string): T | undefined => {
    const value = document[key];
    if (value === undefined) return undefined;
    if (!check(value)) throw new CniConfigError(CNI_ERROR.invalidConfig, `failed to load netconf: ${key} must be ${what}, got ${JSON.stringify(value)}`);
    return value;
  };
  const isString = (value: unknown): value is string => typeof value === 'string';
  const delegate = field('delegate', isJsonObject, 'an object') ?? {};
  if (delegate.type !== undefined && typeof delegate.type !== 'string') {
    throw new CniConfigError(CNI_ERROR.invalidConfig, "'delegate' dictionary, if present, must have (string) 'type' field");
  }
  if ('name' in delegate) throw new CniConfigError(CNI_ERROR.invalidConfig, "'delegate' dictionary must not have 'name' field, it'll be set by flannel");
  if ('ipam' in delegate) throw new CniConfigError(CNI_ERROR.invalidConfig, "'delegate' dictionary must not have 'ipam' field, it'll be set by flannel");
  const ipam = field('ipam', isJsonObject, 'an object');
  return {
    cniVersion: field('cniVersion', isString, 'a string') ?? '',
    name: field('name', isString, 'a string') ?? '',
    subnetFile: field('subnetFile', isString, 'a string') || DEFAULT_SUBNET_FILE,
    dataDir: field('dataDir', isString, 'a string') || DEFAULT_DATA_DIR,
    delegate,
    ...(ipam ? { ipam } : {}),
    ...(document.runtimeConfig !== undefined ? { runtimeConfig: document.runtimeConfig } : {}),
  };
}

/** Checks that subnet.env has what a pod needs; the message lists every missing key. */
export function requireCompleteSubnetEnv(env: SubnetEnv, path: string): void {
  const missing: string[] = [];
  if (env.networks.length === 0 && env.ipv6Networks.length === 0) missing.push('FLANNEL_NETWORK, FLANNEL_IPV6_NETWORK');
  if (!env.subnet && !env.ipv6Subnet) missing.push('FLANNEL_SUBNET, FLANNEL_IPV6_SUBNET');
  if (env.mtu === undefined) missing.push('FLANNEL_MTU');
  if (env.ipMasq === undefined) missing.push('FLANNEL_IPMASQ');
  if (missing.length > 0) throw new CniConfigError(CNI_ERROR.tryAgainLater, `${path} is missing ${missing.join(', ')}`);
}

export function buildDelegateConfig(netconf: FlannelNetConf, env: SubnetEnv): Record<string, unknown> {
  const delegate: Record<string, unknown> = { ...netconf.delegate, name: netconf.name };
  if (delegate.type === undefined) delegate.type = 'bridge';
  if (delegate.ipMasq === undefined) delegate.ipMasq = !(env.ipMasq ?? false);
  if (delegate.mtu === undefined) delegate.mtu = env.mtu;
  if (delegate.type === 'bridge' && delegate.isGateway === undefined) delegate.isGateway = true;
  if (netconf.cniVersion !== '') delegate.cniVersion = netconf.cniVersion;
  if (netconf.runtimeConfig !== undefined) delegate.runtimeConfig = netconf.runtimeConfig;
  const ipam: Record<string, unknown> = { ...(netconf.ipam ?? {}) };
  if (ipam.type === undefined) ipam.type = 'host-local';
  const ranges: unknown[] = [];
  if (env.subnet) ranges.push([{ subnet: env.subnet.toString() }]);
  if (env.ipv6Subnet) ranges.push([{ subnet: env.ipv6Subnet.toString() }]);
  ipam.ranges = ranges;
  const givenRoutes = ipam.routes;
  if (givenRoutes !== undefined && !Array.isArray(givenRoutes)) {
    throw new CniConfigError(CNI_ERROR.invalidConfig, `failed to parse ipam.routes: expected an array, got ${JSON.stringify(givenRoutes)}`);
  }
  ipam.routes = [
    ...((givenRoutes as unknown[] | undefined) ?? []),
    ...env.networks.map((network) => ({ dst: network.toString() })),
    ...env.ipv6Networks.map((network) => ({ dst: network.toString() })),
  ];
  delegate.ipam = ipam;
  return delegate;
}
