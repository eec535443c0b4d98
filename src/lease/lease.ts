/**
 * A lease: one host's subnet(s) of the cluster network and the attributes peers need to reach it.
 *
 * The value stored in etcd is upstream's LeaseAttrs JSON, byte-compatible (reference §3.3):
 * `{"PublicIP":"…","PublicIPv6":null,"BackendType":"…","BackendData":…,"BackendV6Data":…}` — PublicIP always
 * present (`"0.0.0.0"` when unset), PublicIPv6 always present (`null` when unset), the rest omitted when empty.
 * Decoding accepts what Go's encoding/json accepts (case-insensitive keys) and rejects anything else with an
 * error naming the field and the value.
 */
import { Cidr, IpAddress } from '../net/ip.js';
import { FlannelError } from '../support/errors.js';
import { goJson } from '../support/go-json.js';
import { isJsonObject, pickFields } from '../support/json-fields.js';
import { makeSubnetKey } from './subnet-key.js';

export interface LeaseAttrs {
  /** IPv4 public address; 0.0.0.0 when the host has none (IPv6-only). */
  readonly publicIP: IpAddress;
  readonly publicIPv6?: IpAddress;
  /** "" for backends that do not set it (udp, alloc), as upstream. */
  readonly backendType: string;
  /** Decoded JSON value of BackendData (re-encoded compactly, as Go re-marshals a RawMessage). */
  readonly backendData?: unknown;
  readonly backendV6Data?: unknown;
}

export interface Lease {
  readonly subnet: Cidr;
  readonly ipv6Subnet?: Cidr;
  readonly attrs: LeaseAttrs;
  /**
   * Epoch milliseconds when the lease runs out; undefined when it never does (a reservation without TTL, a
   * Kubernetes node's podCIDR) or for a peer whose expiry nobody asked the store for.
   */
  readonly expiresAtMs?: number;
  /**
   * When the store created this key, as a store-wide order (etcd's create_revision; a renewal keeps it):
   * between two overlapping peer leases the one held longer wins on every host alike. Undefined when unknown.
   */
  readonly createRevision?: bigint;
}

export const UNSET_IPV4 = IpAddress.parse('0.0.0.0');

/**
 * The IPv4 "subnet" of an IPv6-only lease: upstream's empty IPv4 subnet, so the key reads `0.0.0.0-0&<v6>-<len>`
 * (what upstream's MakeSubnetKey writes for an empty IPv4 subnet, and what its key parser accepts).
 */
export const NO_IPV4_SUBNET = Cidr.parse('0.0.0.0/0');

export function hasIpv4(lease: Pick<Lease, 'subnet'>): boolean {
  return !lease.subnet.equals(NO_IPV4_SUBNET);
}

export function leaseKey(lease: Pick<Lease, 'subnet' | 'ipv6Subnet'>): string {
  return makeSubnetKey(lease.subnet, lease.ipv6Subnet);
}

/** Upstream's exact byte layout of the lease value (BackendData with Go's escaping, as it re-marshals the raw JSON). */
export function encodeLeaseAttrs(attrs: LeaseAttrs): string {
  let text = `{"PublicIP":${JSON.stringify(attrs.publicIP.toString())}`;
  text += `,"PublicIPv6":${attrs.publicIPv6 ? JSON.stringify(attrs.publicIPv6.toString()) : 'null'}`;
  if (attrs.backendType !== '') text += `,"BackendType":${JSON.stringify(attrs.backendType)}`;
  if (attrs.backendData !== undefined) text += `,"BackendData":${goJson(attrs.backendData)}`;
  if (attrs.backendV6Data !== undefined) text += `,"BackendV6Data":${goJson(attrs.backendV6Data)}`;
  return text + '}';
}

const FIELDS = ['PublicIP', 'PublicIPv6', 'BackendType', 'BackendData', 'BackendV6Data'] as const;

/** Throws FlannelError('BAD_LEASE') naming the field and the value. */
export function decodeLeaseAttrs(text: string): LeaseAttrs {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    throw new FlannelError('BAD_LEASE', `lease value is not JSON: ${JSON.stringify(text.slice(0, 80))}`);
  }
  if (!isJsonObject(document)) {
    throw new FlannelError('BAD_LEASE', `lease value must be a JSON object, got ${JSON.stringify(text.slice(0, 80))}`);
  }
  const raw = pickFields(document, FIELDS);
  const publicIP = decodeIp(raw.PublicIP, 'PublicIP', 4) ?? UNSET_IPV4;
  const publicIPv6 = decodeIp(raw.PublicIPv6, 'PublicIPv6', 6);
  let backendType = '';
  if (raw.BackendType !== undefined && raw.BackendType !== null) {
    if (typeof raw.BackendType !== 'string') {
      throw new FlannelError('BAD_LEASE', `BackendType: expected a string, got ${JSON.stringify(raw.BackendType)}`);
    }
    backendType = raw.BackendType;
  }
  return {
    publicIP,
    backendType,
    ...(publicIPv6 ? { publicIPv6 } : {}),
    ...(raw.BackendData !== undefined && raw.BackendData !== null ? { backendData: raw.BackendData } : {}),
    ...(raw.BackendV6Data !== undefined && raw.BackendV6Data !== null ? { backendV6Data: raw.BackendV6Data } : {}),
  };
}

function decodeIp(value: unknown, field: string, family: 4 | 6): IpAddress | undefined {
  if (value === undefined || value === null) return undefined;
  const ip = typeof value === 'string' ? IpAddress.tryParse(value) : undefined;
  // Go's IP6 type accepts IPv4 text too (stored as ::ffff:a.b.c.d); an IPv4 text in PublicIP is required.
  if (!ip || (family === 4 && ip.family !== 4)) {
    throw new FlannelError('BAD_LEASE', `${field}: invalid IPv${family} address ${JSON.stringify(value)}`);
  }
  return ip;
}

export function sameLease(a: Lease, b: Lease): boolean {
  return (
    a.subnet.equals(b.subnet) &&
    (a.ipv6Subnet === undefined ? b.ipv6Subnet === undefined : a.ipv6Subnet.equals(b.ipv6Subnet)) &&
    encodeLeaseAttrs(a.attrs) === encodeLeaseAttrs(b.attrs)
  );
}
