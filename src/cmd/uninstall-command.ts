/**
 * `flannelctl uninstall`: removes everything flannel-ts owns on this host (src/daemon/uninstall.ts): its
 * firewall rules, its routes (protocol 111) and its devices. Exit 0 all removed, 1 something could not be.
 */
import { IptablesFirewall } from '../adapters/firewall/iptables-firewall.js';
import { NftablesFirewall } from '../adapters/firewall/nftables-firewall.js';
import { NetlinkKernel } from '../adapters/netlink/netlink-kernel.js';
import { uninstall } from '../daemon/uninstall.js';
import type { CommandSpec } from './cli.js';

export const uninstallCommand: CommandSpec = {
  path: ['uninstall'],
  summary: "remove flannel-ts's firewall rules, routes and devices from this host (stop flanneld first)",
  options: {},
  needsNetAdmin: true,
  async run() {
    const kernel = NetlinkKernel.open();
    try {
      const report = await uninstall(kernel, [new IptablesFirewall(), new NftablesFirewall()]);
      process.stdout.write(`removed ${report.routes} routes, devices [${report.devices.join(', ')}], firewall rules (${report.firewalls.join(', ')})\n`);
      for (const problem of report.problems) process.stderr.write(`problem: ${problem}\n`);
      return report.problems.length === 0 ? 0 : 1;
    } finally {
      kernel.close();
    }
  },
};
