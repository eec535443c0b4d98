/**
 * The iptables firewall: reads with `iptables-save -t nat -t filter` (no lock taken for writing), writes with one
 * `iptables-restore --noflush --wait` per family and change set (reference §7.1–7.3). ip6tables for IPv6.
 * The overlay ingress filter's peers live in an ipset (`ipset restore`, written before the rules that use it,
 * destroyed after them); `ipset` is needed only when the filter is on.
 */
import type { IpFamily } from '../../net/ip.js';
import { FlannelError } from '../../support/errors.js';
import type { Firewall } from '../../traffic/firewall.js';
import { INGRESS_CHAIN, ipsetName, ownIpsetLines, renderIpsetRestore } from '../../traffic/ingress-rules.js';
import { type TrafficSpec, iptablesTables, ownIptablesLines, renderIptablesRestore } from '../../traffic/traffic-rules.js';
import { runCommand } from './run-command.js';

const usesPeerSet = (line: string) => line.includes(INGRESS_CHAIN);
const tool = (family: IpFamily, name: 'save' | 'restore' | '') => `${family === 4 ? 'iptables' : 'ip6tables'}${name ? `-${name}` : ''}`;

export class IptablesFirewall implements Firewall {
  readonly mode = 'iptables' as const;
  /** Called after each restore (tests count writes). */
  onWrite: (family: IpFamily) => void = () => undefined;

  async read(family: IpFamily): Promise<string> {
    const rules = ownIptablesLines(await this.save(family));
    // The set matters only while our chain uses it; without the filter a read costs no extra command.
    const set = rules.some(usesPeerSet) ? ownIpsetLines(await this.ipsetSave(family)) : [];
    return [...rules, ...set].join('\n');
  }

  async write(spec: TrafficSpec): Promise<void> {
    // The set first: iptables-restore refuses a rule naming a set that does not exist.
    if (spec.ingress) await runCommand('ipset', ['restore', '-exist'], renderIpsetRestore(spec.family, spec.ingress.peers ?? []));
    const saved = await this.save(spec.family);
    const payload = renderIptablesRestore(iptablesTables(spec), saved);
    if (payload !== '') await runCommand(tool(spec.family, 'restore'), ['--noflush', '--wait'], payload);
    // The filter turned off: its set goes once no rule refers to it.
    if (!spec.ingress && ownIptablesLines(saved).some(usesPeerSet)) await this.destroySet(spec.family);
    if (spec.ingress || payload !== '') this.onWrite(spec.family);
  }

  async remove(family: IpFamily): Promise<void> {
    const payload = renderIptablesRestore([], await this.save(family));
    if (payload !== '') await runCommand(tool(family, 'restore'), ['--noflush', '--wait'], payload);
    await this.destroySet(family);
  }

  private async destroySet(family: IpFamily): Promise<void> {
    if ((await this.ipsetSave(family)) !== '') await runCommand('ipset', ['destroy', ipsetName(family)]);
  }

  async supportsRandomFully(): Promise<boolean> {
    // iptables ≥ 1.6.2 knows --random-fully (as go-iptables' HasRandomFully).
    const version = /v(\d+)\.(\d+)\.(\d+)/.exec(await runCommand('iptables', ['--version']));
    if (!version) return false;
    const [major, minor, patch] = version.slice(1).map(Number) as [number, number, number];
    return major > 1 || (major === 1 && (minor > 6 || (minor === 6 && patch >= 2)));
  }

  /** `ipset save` of our set; '' when it does not exist or ipset is not installed (nothing of ours there). */
  private async ipsetSave(family: IpFamily): Promise<string> {
    try {
      return await runCommand('ipset', ['save', ipsetName(family)]);
    } catch (error) {
      if (error instanceof FlannelError && (error.code === 'FIREWALL_TOOL_MISSING' || /does not exist/.test(error.message))) return '';
      throw error;
    }
  }

  private save(family: IpFamily): Promise<string> {
    return runCommand(tool(family, 'save'), ['-t', 'nat']).then(async (nat) => nat + (await runCommand(tool(family, 'save'), ['-t', 'filter'])));
  }
}
