/**
 * `flannelctl uninstall [--force] [--socket PATH]`: removes everything flannel-ts owns on this host
 * (src/daemon/uninstall.ts): its firewall rules, its routes (protocol 111) and its devices. Refused while a
 * flanneld runs in this network namespace (ops/running-flanneld.ts: the process table, and the status socket
 * for one we cannot see), since it would put everything back, or lose pods' traffic midway; --force removes it
 * anyway. Exit 0 all removed, 1 refused or something could not be removed, 2 bad usage.
 */
import { IptablesFirewall } from '../adapters/firewall/iptables-firewall.js';
import { NftablesFirewall } from '../adapters/firewall/nftables-firewall.js';
import { getJsonFromStatusSocket } from '../adapters/http/status-client.js';
import { NetlinkKernel } from '../adapters/netlink/netlink-kernel.js';
import { uninstall } from '../daemon/uninstall.js';
import { type SocketAnswer, runningFlanneld } from '../ops/running-flanneld.js';
import { FlannelError, errorMessage } from '../support/errors.js';
import type { CommandSpec } from './cli.js';
import { booleanValue, stringValue } from './cli-parse.js';
import { SOCKET_OPTION } from './common-options.js';
import { ownNetworkNamespace, readProcesses } from './proc-processes.js';

/** A live flanneld answers at once; a socket silent this long belongs to a hung one (still running). */
const SOCKET_TIMEOUT_MS = 3000;

export const uninstallCommand: CommandSpec = {
  path: ['uninstall'],
  summary: "remove flannel-ts's firewall rules, routes and devices from this host (refused while flanneld runs here)",
  options: {
    force: { type: 'boolean', help: 'remove them even while a flanneld runs in this network namespace' },
    socket: SOCKET_OPTION,
  },
  details: 'Stop flanneld first (systemctl stop flanneld). Pods on this host lose their network until flanneld runs again.',
  needsNetAdmin: true,
  async run({ values }) {
    const socket = stringValue(values, 'socket');
    if (!booleanValue(values, 'force')) {
      const { reason } = runningFlanneld(readProcesses(), ownNetworkNamespace() ?? 'unknown', process.pid, await askSocket(socket), socket);
      if (reason) {
        process.stderr.write(`flannelctl uninstall: refused: ${reason}; stop it first (systemctl stop flanneld), or pass --force\n`);
        return 1;
      }
    }
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

/** The pid the status socket reports, `absent` when nothing listens there, or the error. */
async function askSocket(path: string): Promise<SocketAnswer> {
  try {
    const document = await getJsonFromStatusSocket(path, '/status', { timeoutMs: SOCKET_TIMEOUT_MS });
    const pid = (document as { flanneld?: { pid?: unknown } }).flanneld?.pid;
    return typeof pid === 'number' ? { pid } : { error: 'its answer names no pid' };
  } catch (error) {
    const cause = error instanceof FlannelError ? (error.cause as { code?: unknown } | undefined)?.code : undefined;
    if (cause === 'ENOENT' || cause === 'ECONNREFUSED') return { absent: true };
    return { error: errorMessage(error) };
  }
}
