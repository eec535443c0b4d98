/**
 * Deciding which subnet this host leases (reference §3.5), as a pure function of the network config, the leases
 * that exist, our public IP and the subnet from the previous subnet.env:
 *   1. a lease that already holds our public IP, when it fits the current config (else it is to be deleted);
 *   2. the previous subnet, when it fits and nobody holds exactly it;
 *   3. a free subnet drawn uniformly at random from the whole [SubnetMin, SubnetMax] range.
 * Upstream draws from the first 100 free candidates only; we draw from every free one (exactly uniform, in
 * O(leases · log leases)), which spreads concurrent joiners apart and makes create conflicts rare.
 */
import type { NetworkConfig } from '../config/network-config.js';
import { Cidr, IpAddress } from '../net/ip.js';
import { FlannelError } from '../support/errors.js';
import { type Lease, NO_IPV4_SUBNET, hasIpv4 } from './lease.js';
import type { SubnetPair } from './subnet-key.js';

export type AcquirePlan =
  | { readonly kind: 'reuse'; readonly lease: Lease; readonly deletes: readonly Lease[] }
  | {
      readonly kind: 'create';
      readonly reason: 'previous' | 'random';
      readonly subnets: SubnetPair;
      readonly deletes: readonly Lease[];
    };

export interface AcquireInput {
  readonly config: NetworkConfig;
  readonly leases: readonly Lease[];
  readonly publicIP: IpAddress;
  readonly publicIPv6?: IpAddress;
  readonly previous?: Partial<SubnetPair>;
  /** Uniform in [0, 1). */
  readonly random: () => number;
  /** Subnets not to pick (e.g. the one a create conflict was just lost on). */
  readonly avoid?: readonly Cidr[];
}

export function planAcquire(input: AcquireInput): AcquirePlan {
  const { config, leases, publicIP } = input;
  const deletes: Lease[] = [];
  // Our lease is the one with our public address: IPv4, or IPv6 in an IPv6-only network.
  const mine = config.enableIPv4
    ? leases.find((lease) => lease.attrs.publicIP.equals(publicIP) && !publicIP.isUnspecified())
    : leases.find((lease) => input.publicIPv6 !== undefined && input.publicIPv6.equals(lease.attrs.publicIPv6));
  if (mine) {
    if (isLeaseCompatible(config, mine)) return { kind: 'reuse', lease: mine, deletes };
    deletes.push(mine);
  }
  const others = leases.filter((lease) => !deletes.includes(lease));
  const previous = input.previous;
  const previousV4 = config.enableIPv4 ? previous?.subnet : NO_IPV4_SUBNET;
  if (previousV4 && isSubnetPairCompatible(config, previousV4, previous?.ipv6Subnet)) {
    const taken = others.some((lease) =>
      (config.enableIPv4 && lease.subnet.equals(previousV4)) || (previous?.ipv6Subnet !== undefined && previous.ipv6Subnet.equals(lease.ipv6Subnet)));
    const avoided = input.avoid?.some((cidr) => cidr.equals(config.enableIPv4 ? previousV4 : previous?.ipv6Subnet)) ?? false;
    if (!taken && !avoided) {
      const subnets: SubnetPair = previous?.ipv6Subnet ? { subnet: previousV4, ipv6Subnet: previous.ipv6Subnet } : { subnet: previousV4 };
      return { kind: 'create', reason: 'previous', subnets, deletes };
    }
  }
  const usedV4 = [...others.filter(hasIpv4).map((lease) => lease.subnet), ...(input.avoid ?? []).filter((c) => c.family === 4)];
  const subnet = config.enableIPv4
    ? pickFreeSubnet(config.subnetMin, config.subnetMax, config.subnetLen, usedV4, input.random, 'IPv4')
    : NO_IPV4_SUBNET;
  let ipv6Subnet: Cidr | undefined;
  if (config.enableIPv6) {
    const usedV6 = [...others.flatMap((lease) => (lease.ipv6Subnet ? [lease.ipv6Subnet] : [])), ...(input.avoid ?? []).filter((c) => c.family === 6)];
    ipv6Subnet = pickFreeSubnet(
      config.ipv6SubnetMin, config.ipv6SubnetMax, config.ipv6SubnetLen, usedV6, input.random, 'IPv6',
    );
  }
  return { kind: 'create', reason: 'random', subnets: ipv6Subnet ? { subnet, ipv6Subnet } : { subnet }, deletes };
}

/** Upstream's isSubnetConfigCompat + isIPv6SubnetConfigCompat. */
export function isLeaseCompatible(config: NetworkConfig, lease: Lease): boolean {
  return isSubnetPairCompatible(config, lease.subnet, lease.ipv6Subnet);
}

function isSubnetPairCompatible(config: NetworkConfig, subnet: Cidr, ipv6Subnet: Cidr | undefined): boolean {
  const inRange = (cidr: Cidr, min: IpAddress | undefined, max: IpAddress | undefined, length: number) =>
    min !== undefined && max !== undefined && cidr.prefixLength === length &&
    cidr.ip.compare(min) >= 0 && cidr.ip.compare(max) <= 0;
  if (config.enableIPv4 ? !inRange(subnet, config.subnetMin, config.subnetMax, config.subnetLen) : !subnet.equals(NO_IPV4_SUBNET)) return false;
  if (!config.enableIPv6) return ipv6Subnet === undefined;
  return ipv6Subnet !== undefined &&
    inRange(ipv6Subnet, config.ipv6SubnetMin, config.ipv6SubnetMax, config.ipv6SubnetLen);
}

/**
 * A uniformly random candidate of length `length` in [min, max] that overlaps none of `used`.
 * Throws FlannelError('OUT_OF_SUBNETS') when every candidate is taken.
 */
export function pickFreeSubnet(
  min: IpAddress | undefined,
  max: IpAddress | undefined,
  length: number,
  used: readonly Cidr[],
  random: () => number,
  familyName: string,
): Cidr {
  if (!min || !max || length === 0) {
    throw new FlannelError('CONFIG', `${familyName} subnet range is not configured`);
  }
  const step = 1n << BigInt(min.bits - length);
  const count = max.value < min.value ? 0n : (max.value - min.value) / step + 1n;
  // Map every used prefix to the candidate indexes it overlaps, then merge into sorted disjoint intervals.
  const intervals: Array<[bigint, bigint]> = [];
  for (const cidr of used) {
    if (cidr.family !== min.family) continue;
    const network = cidr.masked();
    const first = network.ip.value;
    const last = first + network.size - 1n;
    // Candidate i spans [min + i·step, min + (i+1)·step − 1]; it overlaps [first, last] for these i.
    const from = first < min.value ? 0n : (first - min.value) / step;
    const highIndex = last < min.value ? -1n : (last - min.value) / step;
    const to = highIndex >= count ? count - 1n : highIndex;
    if (to >= 0n && from <= to && from < count) intervals.push([from, to]);
  }
  intervals.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const merged: Array<[bigint, bigint]> = [];
  for (const interval of intervals) {
    const last = merged[merged.length - 1];
    if (last && interval[0] <= last[1] + 1n) {
      if (interval[1] > last[1]) last[1] = interval[1];
    } else {
      merged.push([interval[0], interval[1]]);
    }
  }
  const usedCount = merged.reduce((sum, [from, to]) => sum + (to - from + 1n), 0n);
  const free = count - usedCount;
  if (free <= 0n) throw new FlannelError('OUT_OF_SUBNETS', `out of subnets: all ${count} ${familyName} subnets are leased`);
  let pick = randomBigInt(free, random);
  let index = 0n;
  for (const [from, to] of merged) {
    if (index + pick < from) break;
    pick -= from - index;
    index = to + 1n;
  }
  return Cidr.of(IpAddress.fromBigInt(min.family, min.value + (index + pick) * step), length);
}

function randomBigInt(limit: bigint, random: () => number): bigint {
  if (limit <= BigInt(Number.MAX_SAFE_INTEGER)) return BigInt(Math.floor(random() * Number(limit)));
  let value = 0n;
  for (let index = 0; index < 4; index++) value = (value << 32n) | BigInt(Math.floor(random() * 2 ** 32));
  return value % limit;
}
