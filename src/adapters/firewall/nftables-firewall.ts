/**
 * The nftables firewall: tables `ip flannel-ipv4` / `ip6 flannel-ipv6` (reference §7.4), read with `nft list
 * table`, replaced atomically with one `nft -f` script per family.
 */
import type { IpFamily } from '../../net/ip.js';
import type { Firewall } from '../../traffic/firewall.js';
import { type TrafficSpec, nftTableName, renderNftables } from '../../traffic/traffic-rules.js';
import { runCommand } from './run-command.js';

const familyWord = (family: IpFamily) => (family === 4 ? 'ip' : 'ip6');

export class NftablesFirewall implements Firewall {
  readonly mode = 'nftables' as const;
  onWrite: (family: IpFamily) => void = () => undefined;

  async read(family: IpFamily): Promise<string> {
    const tables = await runCommand('nft', ['list', 'tables', familyWord(family)]);
    if (!tables.split('\n').some((line) => line.trim() === `table ${familyWord(family)} ${nftTableName(family)}`)) return '';
    return runCommand('nft', ['list', 'table', familyWord(family), nftTableName(family)]);
  }

  async write(spec: TrafficSpec): Promise<void> {
    await runCommand('nft', ['-f', '-'], renderNftables(spec));
    this.onWrite(spec.family);
  }

  async remove(family: IpFamily): Promise<void> {
    if ((await this.read(family)) !== '') await runCommand('nft', ['delete', 'table', familyWord(family), nftTableName(family)]);
  }

  async supportsRandomFully(): Promise<boolean> {
    // A dry run (--check changes nothing) of a rule using the flag, as upstream probes it.
    const probe = 'table ip flannel-ts-probe {\n\tchain p {\n\t\ttype nat hook postrouting priority srcnat;\n\t\tip saddr != 127.0.0.1 masquerade fully-random\n\t}\n}\n';
    return runCommand('nft', ['--check', '-f', '-'], probe).then(() => true, () => false);
  }
}
