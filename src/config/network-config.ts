/**
 * The network configuration JSON (`<prefix>/config` in etcd, net-conf.json in Kubernetes mode), decoded and
 * defaulted exactly as upstream flannel does (reference §2): case-insensitive keys, unknown keys ignored,
 * EnableIPv4 defaulting to true, SubnetLen/SubnetMin/SubnetMax (and the IPv6 twins) computed from the network,
 * and a missing Backend meaning "udp" (upstream's code; its docs say vxlan).
 *
 * Unlike upstream, which stops at the first problem, `parseNetworkConfig` reports every problem at once, each
 * naming the field and the offending value. Pure: no I/O.
 */
import { Cidr, IpAddress, type IpFamily } from '../net/ip.js';
import { ValidationError } from '../support/errors.js';
import { pickFields } from '../support/json-fields.js';

export interface NetworkConfig {
  readonly enableIPv4: boolean;
  readonly enableIPv6: boolean;
  readonly enableNFTables: boolean;
  readonly network?: Cidr;
  readonly ipv6Network?: Cidr;
  readonly subnetMin?: IpAddress;
  readonly subnetMax?: IpAddress;
  readonly subnetLen: number;
  readonly ipv6SubnetMin?: IpAddress;
  readonly ipv6SubnetMax?: IpAddress;
  readonly ipv6SubnetLen: number;
  /** Lower-cased backend type ("udp" when Backend is absent, "" when Backend has no Type). */
  readonly backendType: string;
  /** The Backend object exactly as given (handed to the backend, which decodes its own options). */
  readonly backend: Readonly<Record<string, unknown>> | undefined;
}

/** Backend types upstream registers; config check rejects anything else. */
export const KNOWN_BACKEND_TYPES = [
  'vxlan', 'host-gw', 'udp', 'ipip', 'ipsec', 'wireguard', 'alloc', 'extension', 'tencent-vpc',
] as const;

const FIELDS = [
  'EnableIPv4', 'EnableIPv6', 'EnableNFTables', 'Network', 'IPv6Network', 'SubnetMin', 'SubnetMax',
  'IPv6SubnetMin', 'IPv6SubnetMax', 'SubnetLen', 'IPv6SubnetLen', 'Backend',
] as const;
type Field = (typeof FIELDS)[number];

/**
 * Decodes JSON text and applies upstream's CheckNetworkConfig defaulting and validation.
 * Throws a ValidationError listing every problem found.
 * `validate: false` reproduces Kubernetes mode, where upstream only decodes (no SubnetLen defaulting).
 */
export function parseNetworkConfig(text: string, options: { validate?: boolean } = {}): NetworkConfig {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    throw new ValidationError([`not valid JSON: ${(error as Error).message}`], 'network config');
  }
  if (document === null || typeof document !== 'object' || Array.isArray(document)) {
    throw new ValidationError(['the network config must be a JSON object'], 'network config');
  }
  const problems: string[] = [];
  const raw = pickFields(document as Record<string, unknown>, FIELDS);
  const decoder = new FieldDecoder(raw, problems);

  const enableIPv4 = decoder.bool('EnableIPv4', true);
  const enableIPv6 = decoder.bool('EnableIPv6', false);
  const enableNFTables = decoder.bool('EnableNFTables', false);
  const network = decoder.cidr('Network', 4);
  const ipv6Network = decoder.cidr('IPv6Network', undefined);
  let subnetMin = decoder.ip('SubnetMin', 4);
  let subnetMax = decoder.ip('SubnetMax', 4);
  let ipv6SubnetMin = decoder.ip('IPv6SubnetMin', undefined);
  let ipv6SubnetMax = decoder.ip('IPv6SubnetMax', undefined);
  let subnetLen = decoder.uint('SubnetLen');
  let ipv6SubnetLen = decoder.uint('IPv6SubnetLen');
  const { backend, backendType } = decodeBackend(raw.Backend, problems);

  if (options.validate !== false) {
    if (enableIPv4) {
      const checked = checkFamily(
        { network, subnetLen, subnetMin, subnetMax, family: 4, networkField: 'Network', prefix: '' },
        problems,
      );
      ({ subnetLen, subnetMin, subnetMax } = checked);
    }
    if (enableIPv6) {
      const checked = checkFamily(
        {
          network: ipv6Network, subnetLen: ipv6SubnetLen, subnetMin: ipv6SubnetMin, subnetMax: ipv6SubnetMax,
          family: 6, networkField: 'IPv6Network', prefix: 'IPv6',
        },
        problems,
      );
      ({ subnetLen: ipv6SubnetLen, subnetMin: ipv6SubnetMin, subnetMax: ipv6SubnetMax } = checked);
    }
    if (!enableIPv4 && !enableIPv6) problems.push('EnableIPv4 and EnableIPv6 are both false: none defined stack');
  }
  if (problems.length > 0) throw new ValidationError(problems, 'network config');
  return {
    enableIPv4, enableIPv6, enableNFTables, network, ipv6Network, subnetMin, subnetMax, subnetLen,
    ipv6SubnetMin, ipv6SubnetMax, ipv6SubnetLen, backendType, backend,
  };
}

/** The effective config as JSON with upstream field names (what `flannelctl config check` prints). */
export function networkConfigToJson(config: NetworkConfig): Record<string, unknown> {
  const out = effectiveFields(config);
  for (const key of Object.keys(out)) if (out[key] === undefined) delete out[key];
  return out;
}

/** Every effective field by its upstream name, in upstream's order (undefined when unset). */
function effectiveFields(config: NetworkConfig): Record<string, unknown> {
  const text = (value: { toString(): string } | undefined) => (value === undefined ? undefined : value.toString());
  return {
    EnableIPv4: config.enableIPv4,
    EnableIPv6: config.enableIPv6,
    EnableNFTables: config.enableNFTables,
    Network: text(config.network),
    IPv6Network: text(config.ipv6Network),
    SubnetMin: text(config.subnetMin),
    SubnetMax: text(config.subnetMax),
    IPv6SubnetMin: text(config.ipv6SubnetMin),
    IPv6SubnetMax: text(config.ipv6SubnetMax),
    SubnetLen: config.subnetLen,
    IPv6SubnetLen: config.ipv6SubnetLen,
    BackendType: config.backendType,
    Backend: config.backend,
  };
}

/**
 * The fields in which `next` differs from `current`, as `Field: old → new` (upstream field names, effective
 * values, so a change that only spells a default out is not one). Empty when they are the same.
 */
export function describeNetworkConfigChanges(current: NetworkConfig, next: NetworkConfig): string[] {
  const before = effectiveFields(current);
  const after = effectiveFields(next);
  const changes: string[] = [];
  for (const field of Object.keys(before)) {
    const [was, now] = [JSON.stringify(before[field]) ?? '(unset)', JSON.stringify(after[field]) ?? '(unset)'];
    if (was !== now) changes.push(`${field}: ${was} → ${now}`);
  }
  return changes;
}

class FieldDecoder {
  constructor(
    private readonly raw: Partial<Record<Field, unknown>>,
    private readonly problems: string[],
  ) {}

  bool(field: Field, fallback: boolean): boolean {
    const value = this.raw[field];
    if (value === undefined || value === null) return fallback;
    if (typeof value === 'boolean') return value;
    this.problems.push(`${field}: expected true or false, got ${JSON.stringify(value)}`);
    return fallback;
  }

  uint(field: Field): number {
    const value = this.raw[field];
    if (value === undefined || value === null) return 0;
    if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return value;
    this.problems.push(`${field}: expected a non-negative integer, got ${JSON.stringify(value)}`);
    return 0;
  }

  cidr(field: Field, family: IpFamily | undefined): Cidr | undefined {
    const value = this.raw[field];
    if (value === undefined || value === null) return undefined;
    const cidr = typeof value === 'string' ? Cidr.tryParse(value) : undefined;
    if (!cidr) {
      this.problems.push(`${field}: invalid CIDR ${JSON.stringify(value)}`);
      return undefined;
    }
    if (family !== undefined && cidr.family !== family) {
      this.problems.push(`${field}: invalid IPv${family} CIDR format ${JSON.stringify(value)}`);
      return undefined;
    }
    return cidr.masked();
  }

  ip(field: Field, family: IpFamily | undefined): IpAddress | undefined {
    const value = this.raw[field];
    if (value === undefined || value === null) return undefined;
    const ip = typeof value === 'string' ? IpAddress.tryParse(value) : undefined;
    if (!ip) {
      this.problems.push(`${field}: invalid IP address format ${JSON.stringify(value)}`);
      return undefined;
    }
    if (family !== undefined && ip.family !== family) {
      this.problems.push(`${field}: invalid IPv${family} address format ${JSON.stringify(value)}`);
      return undefined;
    }
    return ip;
  }
}

function decodeBackend(
  value: unknown,
  problems: string[],
): { backend: Record<string, unknown> | undefined; backendType: string } {
  if (value === undefined || value === null) return { backend: undefined, backendType: 'udp' };
  if (typeof value !== 'object' || Array.isArray(value)) {
    problems.push(`Backend: error decoding Backend property of config: expected an object, got ${JSON.stringify(value)}`);
    return { backend: undefined, backendType: '' };
  }
  const backend = value as Record<string, unknown>;
  if (Object.keys(backend).length === 0) return { backend, backendType: 'udp' };
  const typeKey = Object.keys(backend).find((key) => key === 'Type') ??
    Object.keys(backend).find((key) => key.toLowerCase() === 'type');
  const type = typeKey === undefined ? '' : backend[typeKey];
  if (typeof type !== 'string') {
    problems.push(`Backend.Type: expected a string, got ${JSON.stringify(type)}`);
    return { backend, backendType: '' };
  }
  const backendType = type.toLowerCase();
  if (!(KNOWN_BACKEND_TYPES as readonly string[]).includes(backendType)) {
    problems.push(`Backend.Type: unknown backend type ${JSON.stringify(type)} (known: ${KNOWN_BACKEND_TYPES.join(', ')})`);
  }
  return { backend, backendType };
}

interface FamilyInput {
  network: Cidr | undefined;
  subnetLen: number;
  subnetMin: IpAddress | undefined;
  subnetMax: IpAddress | undefined;
  family: IpFamily;
  networkField: 'Network' | 'IPv6Network';
  prefix: '' | 'IPv6';
}

/** Upstream's CheckNetworkConfig for one family (reference §2.3), collecting problems instead of stopping. */
function checkFamily(input: FamilyInput, problems: string[]) {
  const { network, family, networkField, prefix } = input;
  let { subnetLen, subnetMin, subnetMax } = input;
  const lenField = `${prefix}SubnetLen`;
  const bits = family === 4 ? 32 : 128;
  if (!network || (network.ip.isUnspecified() && network.prefixLength === 0)) {
    problems.push(`${networkField}: please define a correct ${networkField} parameter in the flannel config`);
    return { subnetLen, subnetMin, subnetMax };
  }
  if (subnetLen > 0) {
    if (subnetLen > bits - 2) {
      problems.push(`${lenField}: ${subnetLen}: SubnetLen must be less than /${bits - 1}`);
      return { subnetLen, subnetMin, subnetMax };
    }
    if (subnetLen < network.prefixLength + 2) {
      problems.push(`${lenField}: ${subnetLen}: network ${network} must be able to accommodate at least four subnets`);
      return { subnetLen, subnetMin, subnetMax };
    }
  } else {
    const smallest = bits - 4;
    if (network.prefixLength > smallest) {
      const what = family === 4 ? 'network' : 'IPv6Network';
      problems.push(`${networkField}: ${network}: ${what} is too small. Minimum useful network prefix is /${smallest}`);
      return { subnetLen, subnetMin, subnetMax };
    }
    const roomy = family === 4 ? 22 : 62;
    subnetLen = network.prefixLength <= roomy ? (family === 4 ? 24 : 64) : network.prefixLength + 2;
  }
  const subnetSize = 1n << BigInt(bits - subnetLen);
  const problemsBefore = problems.length;
  const networkName = family === 4 ? 'Network' : 'IPv6Network';
  if (!subnetMin || subnetMin.isUnspecified()) {
    subnetMin = network.ip.add(subnetSize);
  } else if (!network.contains(subnetMin)) {
    problems.push(`${prefix}SubnetMin: ${subnetMin}: ${prefix}SubnetMin is not in the range of the ${networkName} ${network}`);
  }
  if (!subnetMax || subnetMax.isUnspecified()) {
    subnetMax = IpAddress.fromBigInt(family, network.ip.value + network.size - subnetSize);
  } else if (!network.contains(subnetMax)) {
    problems.push(`${prefix}SubnetMax: ${subnetMax}: ${prefix}SubnetMax is not in the range of the ${networkName} ${network}`);
  }
  const mask = Cidr.of(network.ip, subnetLen).mask;
  for (const [name, value] of [['SubnetMin', subnetMin], ['SubnetMax', subnetMax]] as const) {
    if ((value.value & mask) !== value.value) {
      problems.push(`${prefix}${name}: ${value}: ${prefix}${name} is not on a SubnetLen boundary: ${value}`);
    }
  }
  // Upstream accepts this and then fails every acquisition with "all 0 subnets are leased".
  if (problems.length === problemsBefore && subnetMin.value > subnetMax.value) {
    problems.push(`${prefix}SubnetMin: ${subnetMin} is above ${prefix}SubnetMax ${subnetMax}: no subnet can be leased`);
  }
  return { subnetLen, subnetMin, subnetMax };
}
