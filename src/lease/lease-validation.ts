/**
 * Checks of one peer lease against the network config and this host, before any planner sees it (issue 7:
 * leases such as `10.244.0.0-16`, `0.0.0.0-0`, a /25, a subnet outside Network or PublicIP 127.0.0.1 were all
 * programmed). Pure: no I/O, no clock, O(1) per lease. Overlaps between leases are PeerAdmission's business.
 *
 * A lease is checked per enabled family: its subnet must be a network address (no host bits) inside Network
 * (IPv6Network) with prefix SubnetLen (IPv6SubnetLen, when known: Kubernetes mode may leave it 0), and its
 * public address a usable unicast address that is not ours (a lease carrying our public IP for another
 * subnet is not a peer). The backend then checks BackendData (`Backend.checkPeer`). The first problem found is
 * returned, naming the field and the value.
 */
import type { NetworkConfig } from '../config/network-config.js';
import { Cidr, type IpAddress, type IpFamily } from '../net/ip.js';
import { type Lease, hasIpv4 } from './lease.js';

/** Why a lease is not accepted: the field (`subnet`, `PublicIP`, `BackendData.VNI`, …), its value, the reason. */
export interface LeaseProblem {
  readonly field: string;
  readonly value: string;
  readonly reason: string;
}

export interface PeerCheckContext {
  readonly config: NetworkConfig;
  /** Our own public addresses (IPv4 and/or IPv6). */
  readonly ownPublicIPs: readonly IpAddress[];
  /** The backend's check of BackendData / BackendV6Data (Backend.checkPeer). */
  readonly checkBackend?: (lease: Lease) => LeaseProblem | undefined;
}

export function describeLeaseProblem(problem: LeaseProblem): string {
  return `${problem.field} ${problem.value}: ${problem.reason}`;
}

/** The first problem of a peer lease, or undefined when it may be programmed (overlaps aside). */
export function checkPeerLease(lease: Lease, context: PeerCheckContext): LeaseProblem | undefined {
  const { config } = context;
  if (config.enableIPv4) {
    const problem = checkSubnet(lease.subnet, 'subnet', config.network, config.subnetLen, 'Network', 'SubnetLen') ??
      checkPublicIP(lease.attrs.publicIP, 4, 'PublicIP', context.ownPublicIPs);
    if (problem) return problem;
  }
  if (config.enableIPv6) {
    if (lease.ipv6Subnet) {
      const problem = checkSubnet(lease.ipv6Subnet, 'ipv6Subnet', config.ipv6Network, config.ipv6SubnetLen, 'IPv6Network', 'IPv6SubnetLen');
      if (problem) return problem;
    } else if (!config.enableIPv4) {
      return { field: 'ipv6Subnet', value: '(none)', reason: 'an IPv6-only network needs an IPv6 subnet' };
    }
    // A dual-stack peer without an IPv6 underlay address is reachable over IPv4 only; planners skip its IPv6.
    if (lease.attrs.publicIPv6 !== undefined || (lease.ipv6Subnet && !config.enableIPv4)) {
      const problem = checkPublicIP(lease.attrs.publicIPv6, 6, 'PublicIPv6', context.ownPublicIPs);
      if (problem) return problem;
    }
  }
  return context.checkBackend?.(lease);
}

function checkSubnet(subnet: Cidr, field: string, network: Cidr | undefined, subnetLen: number, networkField: string, lenField: string): LeaseProblem | undefined {
  const value = subnet.toString();
  if (field === 'subnet' && !hasIpv4({ subnet })) return { field, value, reason: `no IPv4 subnet, but ${networkField} ${network} is IPv4` };
  if (!subnet.masked().equals(subnet)) return { field, value, reason: `not a network address (host bits set; ${subnet.masked()} would be)` };
  if (!network || !network.containsCidr(subnet)) return { field, value, reason: `not inside ${networkField} ${network}` };
  if (subnetLen > 0 && subnet.prefixLength !== subnetLen) {
    return { field, value, reason: `prefix /${subnet.prefixLength} differs from ${lenField} ${subnetLen}` };
  }
  return undefined;
}

const IPV4_SPECIAL: ReadonlyArray<[Cidr, string]> = [
  [Cidr.parse('0.0.0.0/8'), 'an unspecified ("this network")'],
  [Cidr.parse('127.0.0.0/8'), 'a loopback'],
  [Cidr.parse('224.0.0.0/4'), 'a multicast'],
  [Cidr.parse('255.255.255.255/32'), 'the broadcast'],
];
const IPV6_SPECIAL: ReadonlyArray<[Cidr, string]> = [
  [Cidr.parse('::/128'), 'the unspecified'],
  [Cidr.parse('::1/128'), 'the loopback'],
  [Cidr.parse('ff00::/8'), 'a multicast'],
];

function checkPublicIP(ip: IpAddress | undefined, family: IpFamily, field: string, own: readonly IpAddress[]): LeaseProblem | undefined {
  if (!ip) return { field, value: '(none)', reason: `no IPv${family} address to reach the peer at` };
  const value = ip.toString();
  if (ip.family !== family) return { field, value, reason: `not an IPv${family} address` };
  const special = (family === 4 ? IPV4_SPECIAL : IPV6_SPECIAL).find(([range]) => range.contains(ip));
  if (special) return { field, value, reason: `${special[1]} address, not a usable unicast address` };
  if (own.some((address) => address.equals(ip))) return { field, value, reason: 'our own public address: this lease is not a peer' };
  return undefined;
}
