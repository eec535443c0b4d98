/**
 * The overlay ingress filter (`--overlay-ingress-filter`, flannel-ts only; upstream declined it, flannel#961),
 * as data, pure: overlay UDP (the vxlan or udp backend's port) is accepted only from current peers' public
 * addresses and dropped from anyone else, so a host that can reach the port cannot inject frames into pods.
 * (The udp data path also drops datagrams from strangers itself; the filter stops them before the socket.)
 *
 * The peers are a hash set, so the cost per packet does not grow with the cluster (a chain of one rule per peer
 * costs ~2,500 comparisons per packet at 5,000 peers: bench/ingress-filter.ts):
 * - iptables: an ipset `flannel-peers-v4` / `-v6` (hash:ip), chain FLANNEL-INGRESS in filter, jumped to first
 *   in INPUT for the overlay port only: peers RETURN (later INPUT rules still apply), everything else is dropped;
 * - nftables: set `overlay_peers` and chain `overlay_ingress` (hook input) in our flannel-ipv4/-ipv6 table.
 * The set is replaced atomically (ipset swap, one nft transaction), so no packet sees a half-written set.
 */
import { UDP, parseUdpOptions } from '../backend/udp/udp-options.js';
import { parseVxlanOptions } from '../backend/vxlan/vxlan-options.js';
import type { NetworkConfig } from '../config/network-config.js';
import type { IpAddress, IpFamily } from '../net/ip.js';

export interface IngressSpec {
  readonly protocol: 'udp';
  /** The overlay's destination port (vxlan: Backend.Port, default 8472; udp: Backend.Port, default 8285). */
  readonly port: number;
  /**
   * Public addresses of this family of every current peer, sorted, without duplicates; undefined until the
   * first lease snapshot (the firewall reconciler then leaves rules of a previous run in place).
   */
  readonly peers?: readonly IpAddress[];
}

export const INGRESS_CHAIN = 'FLANNEL-INGRESS';
const INGRESS_COMMENT = '-m comment --comment "flanneld overlay ingress"';

/**
 * The UDP port overlay traffic arrives on for this config (vxlan: Port, default 8472; udp: Port, default
 * 8285), or undefined for backends without one (host-gw, alloc).
 */
export function overlayPortOf(config: NetworkConfig): number | undefined {
  if (config.backendType === 'vxlan') return parseVxlanOptions(config.backend).port;
  if (config.backendType === UDP) return parseUdpOptions(config.backend).port;
  return undefined;
}

/** The ipset holding this family's peers, and the scratch set a rewrite fills before swapping. */
export function ipsetName(family: IpFamily, scratch = false): string {
  return `flannel-peers-v${family}${scratch ? '-new' : ''}`;
}

/** The FLANNEL-INGRESS chain and its first-in-INPUT jump, in iptables-save form. */
export function ingressIptablesRules(family: IpFamily, ingress: IngressSpec): { jump: string; rules: string[] } {
  return {
    jump: `-A INPUT -p ${ingress.protocol} -m ${ingress.protocol} --dport ${ingress.port} ${INGRESS_COMMENT} -j ${INGRESS_CHAIN}`,
    rules: [
      `-A ${INGRESS_CHAIN} -m set --match-set ${ipsetName(family)} src ${INGRESS_COMMENT} -j RETURN`,
      `-A ${INGRESS_CHAIN} ${INGRESS_COMMENT} -j DROP`,
    ],
  };
}

/**
 * An `ipset restore -exist` payload that makes the family's set exactly `peers`: fill a scratch set, swap it
 * with the live one (atomic), destroy the scratch set.
 */
export function renderIpsetRestore(family: IpFamily, peers: readonly IpAddress[]): string {
  const live = ipsetName(family);
  const scratch = ipsetName(family, true);
  const create = (name: string) => `create ${name} hash:ip family ${family === 4 ? 'inet' : 'inet6'}`;
  return [
    create(live), create(scratch), `flush ${scratch}`,
    ...peers.map((peer) => `add ${scratch} ${peer}`),
    `swap ${scratch} ${live}`, `destroy ${scratch}`,
  ].join('\n') + '\n';
}

/**
 * The comparable content of `ipset save <set>` output: whether the set exists and its members, sorted (the
 * hash size and seed ipset prints may differ between two sets with the same members).
 */
export function ownIpsetLines(saved: string): string[] {
  const lines = saved.split('\n').map((line) => line.trim());
  const header = lines.find((line) => line.startsWith('create '));
  if (!header) return [];
  const name = header.split(' ')[1] as string;
  return [`ipset ${name}`, ...lines.filter((line) => line.startsWith('add ')).sort()];
}

/** Lines inside our nftables table: the peer set and the input-hook chain that drops everyone else. */
export function nftIngressLines(family: IpFamily, ingress: IngressSpec): string[] {
  const address = family === 4 ? 'ip' : 'ip6';
  const peers = ingress.peers ?? [];
  return [
    '\tset overlay_peers {',
    `\t\ttype ${family === 4 ? 'ipv4_addr' : 'ipv6_addr'}`,
    ...(peers.length > 0 ? [`\t\telements = { ${peers.join(', ')} }`] : []),
    '\t}',
    '\tchain overlay_ingress {',
    '\t\ttype filter hook input priority filter; policy accept;',
    '\t\tcomment "overlay traffic only from peers"',
    `\t\t${ingress.protocol} dport ${ingress.port} ${address} saddr != @overlay_peers drop`,
    '\t}',
  ];
}

/** Peers' public addresses of one family, unspecified ones left out, sorted and without duplicates. */
export function peerAddresses(addresses: ReadonlyArray<IpAddress | undefined>, family: IpFamily): IpAddress[] {
  const unique = new Map<string, IpAddress>();
  for (const address of addresses) {
    if (address && address.family === family && !address.isUnspecified()) unique.set(address.toString(), address);
  }
  return [...unique.values()].sort((a, b) => a.compare(b));
}
