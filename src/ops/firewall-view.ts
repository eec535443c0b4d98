/**
 * The firewall's verdict points that decide whether pod traffic passes this host, read from `iptables-save -t
 * filter` text (iptables-nft shows its xtables rules the same way), pure:
 * - the FORWARD chain's policy, and the networks a rule in FORWARD or in FLANNEL-FWD (jumped to from FORWARD)
 *   accepts by -s/-d, so "policy DROP without an accept for the pod network" can be told apart from "policy DROP,
 *   flannel's forward rules accept it";
 * - rules of the INPUT chain itself that drop or reject UDP to a port for every source (a firewall closing the
 *   overlay port). Rules restricted to sources (our FLANNEL-INGRESS filter drops only non-peers) are not that.
 * Rules in nftables-only tables are not seen here; the active probe still finds what they drop.
 */
import { FORWARD_CHAIN } from '../traffic/traffic-rules.js';
import { Cidr } from '../net/ip.js';

export interface FirewallView {
  /** undefined: no filter table / FORWARD chain in the text. */
  readonly forwardPolicy?: string;
  /** Networks accepted by -s or -d in FORWARD or FLANNEL-FWD. */
  readonly forwardAccepts: readonly Cidr[];
  /** Whether FORWARD jumps to FLANNEL-FWD. */
  readonly flannelForwardHooked: boolean;
  /** UDP destination ports INPUT drops or rejects for every source, with the rule. */
  readonly inputUdpDrops: ReadonlyArray<{ readonly port: number; readonly rule: string }>;
}

export function parseFilterTable(saved: string): FirewallView {
  let inFilter = false;
  let forwardPolicy: string | undefined;
  const forwardAccepts: Cidr[] = [];
  // FLANNEL-FWD's accepts count only when FORWARD jumps to it (known once the whole table is read).
  const chainAccepts: Cidr[] = [];
  let flannelForwardHooked = false;
  const inputUdpDrops: Array<{ port: number; rule: string }> = [];
  for (const raw of saved.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('*')) {
      inFilter = line === '*filter';
      continue;
    }
    if (!inFilter) continue;
    const policy = /^:FORWARD (\S+)/.exec(line);
    if (policy) forwardPolicy = policy[1];
    if (!line.startsWith('-A ')) continue;
    const words = line.split(/\s+/);
    const chain = words[1];
    const option = (name: string) => {
      const index = words.indexOf(name);
      return index >= 0 ? words[index + 1] : undefined;
    };
    const target = option('-j');
    if (chain === 'FORWARD' && target === FORWARD_CHAIN) flannelForwardHooked = true;
    if ((chain === 'FORWARD' || chain === FORWARD_CHAIN) && target === 'ACCEPT' && !words.includes('!')) {
      for (const flag of ['-s', '-d']) {
        const cidr = Cidr.tryParse(option(flag) ?? '');
        if (cidr) (chain === 'FORWARD' ? forwardAccepts : chainAccepts).push(cidr);
      }
    }
    if (chain === 'INPUT' && (target === 'DROP' || target === 'REJECT') && option('-p') === 'udp' && option('-s') === undefined && !words.includes('!')) {
      const port = Number(option('--dport'));
      if (Number.isInteger(port) && port > 0) inputUdpDrops.push({ port, rule: line });
    }
  }
  if (flannelForwardHooked) forwardAccepts.push(...chainAccepts);
  return { ...(forwardPolicy === undefined ? {} : { forwardPolicy }), forwardAccepts, flannelForwardHooked, inputUdpDrops };
}

/** Whether forwarded traffic of `network` passes: policy ACCEPT, or an accept rule covering it. */
export function forwardAllows(view: FirewallView, network: Cidr): boolean {
  if (view.forwardPolicy === undefined || view.forwardPolicy === 'ACCEPT') return true;
  return view.forwardAccepts.some((accepted) => accepted.containsCidr(network));
}
