/**
 * flanneld's masquerade and forward rules (reference §7) as data, per family, pure:
 * - iptables: chains FLANNEL-POSTRTG (nat) and FLANNEL-FWD (filter) with upstream's rules and comments, written
 *   exactly as `iptables-save` prints them so that what is read back can be compared line by line;
 * - nftables: tables `flannel-ipv4` / `flannel-ipv6` with chains `postrtg` and `forward`, as upstream.
 * Upstream's own rule-order and chain quirks (§13.5, §13.6) are kept where they are visible to a mixed cluster
 * (the rules themselves); cleanup targets the right chains. The optional overlay ingress filter (ours, not
 * upstream's) adds a chain and a peer set in each mode (ingress-rules.ts).
 */
import type { Cidr, IpFamily } from '../net/ip.js';
import { INGRESS_CHAIN, type IngressSpec, ingressIptablesRules, nftIngressLines } from './ingress-rules.js';

export interface TrafficSpec {
  readonly family: IpFamily;
  /** The cluster network (FLANNEL_NETWORK / FLANNEL_IPV6_NETWORK). */
  readonly network: Cidr;
  /** Our lease's subnet of that family. */
  readonly subnet: Cidr;
  readonly ipMasq: boolean;
  readonly forwardRules: boolean;
  readonly randomFully: boolean;
  /** The overlay ingress filter (ingress-rules.ts); absent when off. */
  readonly ingress?: IngressSpec;
}

export const MASQ_CHAIN = 'FLANNEL-POSTRTG';
export const FORWARD_CHAIN = 'FLANNEL-FWD';
const MASQ_COMMENT = '-m comment --comment "flanneld masq"';
const FORWARD_COMMENT = '-m comment --comment "flanneld forward"';
/** kube-proxy's masquerade mark: traffic it already marked is left to it. */
export const KUBE_PROXY_MARK = '0x4000/0x4000';

export interface IptablesTable {
  readonly table: 'nat' | 'filter';
  /** Built-in chain holding our jump. */
  readonly hook: 'POSTROUTING' | 'FORWARD' | 'INPUT';
  /** A missing jump is inserted first in the hook (a filter must run before others' ACCEPTs), else appended. */
  readonly jumpFirst?: boolean;
  readonly chain: string;
  /** The jump rule, in iptables-save form (`-A POSTROUTING … -j FLANNEL-POSTRTG`). */
  readonly jump: string;
  /** Our chain's rules in order, in iptables-save form. */
  readonly rules: readonly string[];
}

/** The tables flanneld wants for one family (empty when neither feature is on). */
export function iptablesTables(spec: TrafficSpec): IptablesTable[] {
  const tables: IptablesTable[] = [];
  const multicast = spec.family === 4 ? '224.0.0.0/4' : 'ff00::/8';
  const network = spec.network.toString();
  const subnet = spec.subnet.toString();
  if (spec.ipMasq) {
    const masquerade = `-j MASQUERADE${spec.randomFully ? ' --random-fully' : ''}`;
    const rule = (match: string, target: string) => `-A ${MASQ_CHAIN} ${match}${match ? ' ' : ''}${MASQ_COMMENT} ${target}`;
    tables.push({
      table: 'nat',
      hook: 'POSTROUTING',
      chain: MASQ_CHAIN,
      jump: `-A POSTROUTING ${MASQ_COMMENT} -j ${MASQ_CHAIN}`,
      rules: [
        rule(`-m mark --mark ${KUBE_PROXY_MARK}`, '-j RETURN'),
        rule(`-s ${subnet} -d ${network}`, '-j RETURN'),
        rule(`-s ${network} -d ${subnet}`, '-j RETURN'),
        rule(`! -s ${network} -d ${subnet}`, '-j RETURN'),
        rule(`-s ${network} ! -d ${multicast}`, masquerade),
        rule(`! -s ${network} -d ${network}`, masquerade),
      ],
    });
  }
  if (spec.forwardRules) {
    tables.push({
      table: 'filter',
      hook: 'FORWARD',
      chain: FORWARD_CHAIN,
      jump: `-A FORWARD ${FORWARD_COMMENT} -j ${FORWARD_CHAIN}`,
      rules: [`-A ${FORWARD_CHAIN} -s ${network} ${FORWARD_COMMENT} -j ACCEPT`, `-A ${FORWARD_CHAIN} -d ${network} ${FORWARD_COMMENT} -j ACCEPT`],
    });
  }
  if (spec.ingress) {
    tables.push({ table: 'filter', hook: 'INPUT', chain: INGRESS_CHAIN, jumpFirst: true, ...ingressIptablesRules(spec.family, spec.ingress) });
  }
  return tables;
}

/**
 * The lines of `iptables-save` output that are flanneld's: our chains' declarations and rules, and the jumps to
 * them from the built-in chains, in order. This is what a resync compares.
 */
export function ownIptablesLines(saved: string): string[] {
  const ours = [MASQ_CHAIN, FORWARD_CHAIN, INGRESS_CHAIN];
  const lines: string[] = [];
  let table = '';
  for (const raw of saved.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('*')) table = line;
    else if (ours.some((chain) => line.startsWith(`:${chain} `) || line.startsWith(`-A ${chain} `) || line.endsWith(` -j ${chain}`))) {
      lines.push(`${table} ${line.replace(/ \[\d+:\d+\]$/, '')}`);
    }
  }
  return lines;
}

/**
 * One `iptables-restore --noflush` payload that makes our part of the tables exactly `wanted`: our chains are
 * declared (which creates or flushes them) and refilled in order; jumps are added when missing and extra
 * copies removed. Chains of features turned off are flushed and deleted. Other rules are not touched.
 */
export function renderIptablesRestore(wanted: readonly IptablesTable[], saved: string): string {
  const present = ownIptablesLines(saved);
  const all: Array<Pick<IptablesTable, 'table' | 'hook' | 'chain'>> = [
    { table: 'nat', hook: 'POSTROUTING', chain: MASQ_CHAIN },
    { table: 'filter', hook: 'FORWARD', chain: FORWARD_CHAIN },
    { table: 'filter', hook: 'INPUT', chain: INGRESS_CHAIN },
  ];
  // One section (one commit) per table; in it, declarations (which create or flush), then removals, then rules.
  const sections = new Map<string, { declare: string[]; remove: string[]; add: string[] }>();
  for (const slot of all) {
    const section = sections.get(slot.table) ?? { declare: [], remove: [], add: [] };
    const table = wanted.find((candidate) => candidate.chain === slot.chain);
    const jumps = present.filter((line) => line.startsWith(`*${slot.table} -A ${slot.hook} `) && line.endsWith(` -j ${slot.chain}`));
    const chainExists = present.some((line) => line === `*${slot.table} :${slot.chain} -`);
    if (table) {
      section.declare.push(`:${slot.chain} - [0:0]`);
      // Keep one exact jump where it is (others' rules may sit around it); drop copies and stale variants.
      const keep = jumps.indexOf(`*${slot.table} ${table.jump}`);
      jumps.forEach((jump, index) => index !== keep && section.remove.push(jump.replace(`*${slot.table} -A `, '-D ')));
      if (keep < 0) section.add.push(table.jumpFirst ? table.jump.replace(`-A ${slot.hook} `, `-I ${slot.hook} 1 `) : table.jump);
      section.add.push(...table.rules);
    } else if (chainExists || jumps.length > 0) {
      for (const jump of jumps) section.remove.push(jump.replace(`*${slot.table} -A `, '-D '));
      if (chainExists) {
        section.declare.push(`:${slot.chain} - [0:0]`);
        section.remove.push(`-X ${slot.chain}`);
      }
    }
    sections.set(slot.table, section);
  }
  const lines: string[] = [];
  for (const [name, section] of sections) {
    const body = [...section.declare, ...section.remove, ...section.add];
    if (body.length > 0) lines.push(`*${name}`, ...body, 'COMMIT');
  }
  return lines.length > 0 ? lines.join('\n') + '\n' : '';
}

/** The nftables table name of a family, as upstream. */
export function nftTableName(family: IpFamily): string {
  return family === 4 ? 'flannel-ipv4' : 'flannel-ipv6';
}

/**
 * An `nft -f` script that replaces our table with exactly the wanted one in one transaction (create it empty
 * so the delete cannot fail, delete it, define it again).
 */
export function renderNftables(spec: TrafficSpec): string {
  const family = spec.family === 4 ? 'ip' : 'ip6';
  const name = nftTableName(spec.family);
  const address = spec.family === 4 ? 'ip' : 'ip6';
  const multicast = spec.family === 4 ? '224.0.0.0/4' : 'ff00::/8';
  const network = spec.network.toString();
  const subnet = spec.subnet.toString();
  const masquerade = spec.randomFully ? 'masquerade fully-random' : 'masquerade';
  const lines = [`table ${family} ${name} {`, `\tcomment "rules for ${name}"`];
  if (spec.forwardRules) {
    lines.push(
      '\tchain forward {',
      '\t\ttype filter hook forward priority filter; policy accept;',
      '\t\tcomment "chain to accept flannel traffic"',
      `\t\t${address} saddr ${network} accept`,
      `\t\t${address} daddr ${network} accept`,
      '\t}',
    );
  }
  if (spec.ipMasq) {
    lines.push(
      '\tchain postrtg {',
      '\t\ttype nat hook postrouting priority srcnat; policy accept;',
      '\t\tcomment "chain to manage traffic masquerading by flannel"',
      '\t\tmeta mark 0x00004000 return',
      `\t\t${address} saddr ${subnet} ${address} daddr ${network} return`,
      `\t\t${address} saddr ${network} ${address} daddr ${subnet} return`,
      `\t\t${address} saddr != ${subnet} ${address} daddr ${network} return`,
      `\t\t${address} saddr ${network} ${address} daddr != ${multicast} ${masquerade}`,
      `\t\t${address} saddr != ${network} ${address} daddr ${network} ${masquerade}`,
      '\t}',
    );
  }
  if (spec.ingress) lines.push(...nftIngressLines(spec.family, spec.ingress));
  lines.push('}');
  return [`table ${family} ${name}`, `delete table ${family} ${name}`, ...lines].join('\n') + '\n';
}
