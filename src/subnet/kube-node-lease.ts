/**
 * Nodes → leases (reference §4.3, §4.4), pure.
 *
 * - `nodeToLease`: a peer's lease from its annotations and pod CIDRs, as upstream's nodeToLease: per enabled
 *   family the public address must parse (upstream's error texts), the subnet is the first pod CIDR of that
 *   family, and a family without one is an error. backend-data that is not JSON makes the node unreadable
 *   (upstream hands the bytes on and the backend fails on them later).
 * - `ownPodCidrs`: our own node's pod CIDRs as upstream's AcquireLease selects them (`spec.podCIDR` must be set;
 *   the last CIDR of each family in `spec.podCIDRs` wins; three or more is an error).
 * - `ownLeaseSubnets`: those CIDRs checked against the network config (containment, upstream's texts). Unlike
 *   upstream, an enabled family without a pod CIDR is an error instead of an empty subnet.
 */
import type { NetworkConfig } from '../config/network-config.js';
import { type Lease, type LeaseAttrs, NO_IPV4_SUBNET, UNSET_IPV4 } from '../lease/lease.js';
import type { SubnetPair } from '../lease/subnet-key.js';
import { Cidr, IpAddress, type IpFamily } from '../net/ip.js';
import { FlannelError } from '../support/errors.js';
import type { KubeAnnotations } from './kube-annotations.js';
import type { KubeNode } from './kube-api.js';

export interface NodeLeaseContext {
  readonly annotations: KubeAnnotations;
  readonly enableIPv4: boolean;
  readonly enableIPv6: boolean;
}

export type NodeLeaseResult = { readonly lease: Lease } | { readonly problem: string };

/** True when flannel manages the node (`<prefix>kube-subnet-manager: "true"`); only those are peers. */
export function isManagedNode(node: KubeNode, annotations: KubeAnnotations): boolean {
  return node.annotations[annotations.subnetKubeManaged] === 'true';
}

export function nodeToLease(node: KubeNode, context: NodeLeaseContext): NodeLeaseResult {
  try {
    return { lease: convert(node, context) };
  } catch (error) {
    return { problem: (error as Error).message };
  }
}

function convert(node: KubeNode, { annotations, enableIPv4, enableIPv6 }: NodeLeaseContext): Lease {
  const get = (name: string) => node.annotations[name] ?? '';
  let subnet = NO_IPV4_SUBNET;
  let publicIP = UNSET_IPV4;
  let backendData: unknown;
  let ipv6Subnet: Cidr | undefined;
  let publicIPv6: IpAddress | undefined;
  let backendV6Data: unknown;
  if (enableIPv4) {
    publicIP = parseGoIp(get(annotations.backendPublicIP));
    if (publicIP.family !== 4) throw new Error('invalid IPv4 address format');
    backendData = parseBackendData(get(annotations.backendData), annotations.backendData);
    subnet = firstPodCidr(node, 4) ?? fail('missing IPv4 address on n.Spec.PodCIDRs');
  }
  if (enableIPv6) {
    publicIPv6 = parseGoIp(get(annotations.backendPublicIPv6));
    if (publicIPv6.family !== 6) throw new Error('invalid IPv6 address format');
    backendV6Data = parseBackendData(get(annotations.backendV6Data), annotations.backendV6Data);
    ipv6Subnet = firstPodCidr(node, 6) ?? fail('missing IPv6 address on n.Spec.PodCIDRs');
  }
  // One literal, named fields first: building it by `{ ...attrs, more }` gives every Node its own hidden class.
  const attrs: LeaseAttrs = {
    publicIP,
    backendType: get(annotations.backendType),
    ...(backendData === undefined ? {} : { backendData }),
    ...(publicIPv6 ? { publicIPv6 } : {}),
    ...(backendV6Data === undefined ? {} : { backendV6Data }),
  };
  return { subnet, ...(ipv6Subnet ? { ipv6Subnet } : {}), attrs };
}

/** Go's net.ParseIP for an annotation value; an IPv4-mapped IPv6 address counts as IPv4 (Go's To4()). */
function parseGoIp(text: string): IpAddress {
  const ip = IpAddress.tryParse(text);
  if (!ip) throw new Error('invalid IP address format');
  if (ip.family === 6 && ip.value >> 32n === 0xffffn) return IpAddress.fromBigInt(4, ip.value & 0xffffffffn);
  return ip;
}

/** The backend-data annotation's JSON value; undefined for absent, empty or `null` (what host-gw writes). */
function parseBackendData(text: string, name: string): unknown {
  if (text === '' || text === 'null') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`annotation ${name} is not JSON: ${JSON.stringify(text.slice(0, 80))}`);
  }
}

/** The pod CIDRs listed on the node (`spec.podCIDRs`, else `spec.podCIDR`), each parsed as Go's ParseCIDR. */
function listedPodCidrs(node: KubeNode, who: string): Cidr[] {
  const texts = node.podCIDRs.length === 0 ? [node.podCIDR] : node.podCIDRs;
  if (texts.length > 2) throw new Error(`node ${goQuote(who)} pod cidrs should be IPv4/IPv6 only or dualstack`);
  return texts.map(parseGoCidr);
}

function firstPodCidr(node: KubeNode, family: IpFamily): Cidr | undefined {
  // Upstream parses the list up to the first match, so a bad entry after it goes unnoticed; so it does here.
  const texts = node.podCIDRs.length === 0 ? [node.podCIDR] : node.podCIDRs;
  if (texts.length > 2) throw new Error(`node ${goQuote(node.name)} pod cidrs should be IPv4/IPv6 only or dualstack`);
  for (const text of texts) {
    const cidr = parseGoCidr(text);
    if (cidr.family === family) return cidr;
  }
  return undefined;
}

export function parseGoCidr(text: string): Cidr {
  const cidr = Cidr.tryParse(text);
  if (!cidr) throw new Error(`invalid CIDR address: ${text}`);
  return cidr.masked();
}

export interface OwnPodCidrs {
  readonly ipv4?: Cidr;
  readonly ipv6?: Cidr;
}

/**
 * Our node's pod CIDRs. Throws FlannelError POD_CIDR_NOT_ASSIGNED (retryable: the controller-manager assigns
 * one soon after the node registers) or BAD_POD_CIDR.
 */
export function ownPodCidrs(node: KubeNode): OwnPodCidrs {
  if (node.podCIDR === '') {
    throw new FlannelError('POD_CIDR_NOT_ASSIGNED', `node ${goQuote(node.name)} pod cidr not assigned`, { retryable: true });
  }
  let cidrs: Cidr[];
  try {
    cidrs = listedPodCidrs(node, node.name);
  } catch (error) {
    throw new FlannelError('BAD_POD_CIDR', (error as Error).message);
  }
  let ipv4: Cidr | undefined;
  let ipv6: Cidr | undefined;
  for (const cidr of cidrs) {
    if (cidr.family === 4) ipv4 = cidr;
    else ipv6 = cidr;
  }
  return { ...(ipv4 ? { ipv4 } : {}), ...(ipv6 ? { ipv6 } : {}) };
}

/**
 * The subnets of our lease: each enabled family's pod CIDR, which must lie inside that family's network.
 * Throws FlannelError POD_CIDR_OUTSIDE_NETWORK (not retryable: a config error; upstream's text) or
 * POD_CIDR_MISSING_FAMILY (retryable).
 */
export function ownLeaseSubnets(config: NetworkConfig, cidrs: OwnPodCidrs, nodeName: string): SubnetPair {
  let subnet = NO_IPV4_SUBNET;
  let ipv6Subnet: Cidr | undefined;
  const missing = (family: IpFamily) =>
    new FlannelError('POD_CIDR_MISSING_FAMILY',
      `node ${goQuote(nodeName)} has no IPv${family} pod CIDR but the network config enables IPv${family}`, { retryable: true });
  if (config.enableIPv4) {
    if (!cidrs.ipv4) throw missing(4);
    if (!config.network || !config.network.containsCidr(cidrs.ipv4)) {
      throw new FlannelError('POD_CIDR_OUTSIDE_NETWORK',
        `subnet ${goQuote(String(config.network ?? '0.0.0.0/0'))} specified in the flannel net config doesn't contain ${goQuote(String(cidrs.ipv4))} PodCIDR of the ${goQuote(nodeName)} node`);
    }
    subnet = cidrs.ipv4;
  }
  if (config.enableIPv6) {
    if (!cidrs.ipv6) throw missing(6);
    if (!config.ipv6Network || !config.ipv6Network.containsCidr(cidrs.ipv6)) {
      throw new FlannelError('POD_CIDR_OUTSIDE_NETWORK',
        `subnet ${goQuote(String(config.ipv6Network ?? '::/0'))} specified in the flannel net config doesn't contain ${goQuote(String(cidrs.ipv6))} IPv6 PodCIDR of the ${goQuote(nodeName)} node`);
    }
    ipv6Subnet = cidrs.ipv6;
  }
  return { subnet, ...(ipv6Subnet ? { ipv6Subnet } : {}) };
}

/** Go's %q for the plain strings used here (JSON quoting agrees with it on printable text). */
export function goQuote(text: string): string {
  return JSON.stringify(text);
}

function fail(message: string): never {
  throw new Error(message);
}
