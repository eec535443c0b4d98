/**
 * The firewall port: flanneld's masquerade/forward rules in one of two implementations (iptables through
 * iptables-save/iptables-restore, nftables through nft). Reading never takes the xtables lock for writing;
 * a write is one transaction per family.
 */
import type { IpFamily } from '../net/ip.js';
import type { TrafficSpec } from './traffic-rules.js';

export type FirewallMode = 'iptables' | 'nftables';

export interface Firewall {
  readonly mode: FirewallMode;
  /** Our rules of this family as comparable text ('' when there are none). */
  read(family: IpFamily): Promise<string>;
  /** Makes our rules of this family exactly what `spec` asks for, in one transaction. */
  write(spec: TrafficSpec): Promise<void>;
  /** Removes every rule, chain or table of ours for this family (for switching modes and uninstalling). */
  remove(family: IpFamily): Promise<void>;
  /** Whether masquerade can use fully random source ports here. */
  supportsRandomFully(): Promise<boolean>;
}
