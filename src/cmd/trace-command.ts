/**
 * `flannelctl trace <dst> [--from <src>] [--socket PATH] [--subnet-file PATH] [--no-probe] [--json]`: the path
 * of a packet to <dst> from live state, hop by hop (src/ops/trace). Leases come from flanneld's status socket,
 * kernel state from netlink, the firewall from iptables-save, the probe from a raw ICMP socket. Exit 0 when the
 * path is ok, 1 when a hop is broken, 2 on bad arguments, 3 when something needed cannot be read.
 */
import { parseArgs } from 'node:util';
import { readFirewallView, readTextFile, readWireguardPeers } from '../adapters/host/host-readers.js';
import { getJsonFromStatusSocket } from '../adapters/http/status-client.js';
import { DEFAULT_STATUS_SOCKET } from '../adapters/http/status-socket.js';
import { NetlinkKernel } from '../adapters/netlink/netlink-kernel.js';
import { RawSocketProber } from '../adapters/probe/raw-socket-prober.js';
import { NetlinkRouteResolver } from '../adapters/route-lookup/netlink-route-resolver.js';
import { parseSubnetEnv } from '../cni/subnet-env.js';
import { IpAddress } from '../net/ip.js';
import { decodeLeaseTable } from '../ops/lease-records.js';
import { gatherTraceFacts } from '../ops/trace/gather-trace-facts.js';
import { evaluateTrace } from '../ops/trace/trace-evaluator.js';
import { renderTraceText } from '../ops/trace/trace-text.js';
import { errorMessage } from '../support/errors.js';

export const TRACE_USAGE = '  flannelctl trace DST [--from SRC] [--socket PATH] [--subnet-file PATH] [--no-probe] [--json]\n                            (the path of a packet to DST, hop by hop, each ok or broken with the reason)\n';
export const DEFAULT_SUBNET_FILE = '/run/flannel/subnet.env';

export async function traceCommand(args: string[]): Promise<number> {
  let destination: IpAddress;
  let source: IpAddress | undefined;
  let values: { from?: string; socket?: string; 'subnet-file'?: string; 'no-probe'?: boolean; json?: boolean };
  try {
    const parsed = parseArgs({
      args, allowPositionals: true,
      options: { from: { type: 'string' }, socket: { type: 'string', default: DEFAULT_STATUS_SOCKET }, 'subnet-file': { type: 'string', default: DEFAULT_SUBNET_FILE }, 'no-probe': { type: 'boolean', default: false }, json: { type: 'boolean', default: false } },
    });
    values = parsed.values;
    if (parsed.positionals.length !== 1) throw new Error('trace takes one destination address');
    destination = IpAddress.parse(parsed.positionals[0] as string, 'destination');
    source = values.from === undefined ? undefined : IpAddress.parse(values.from, '--from');
    if (source && source.family !== destination.family) throw new Error('--from and the destination must be of one family');
  } catch (error) {
    process.stderr.write(`${errorMessage(error)}\n${TRACE_USAGE}`);
    return 2;
  }
  const kernel = NetlinkKernel.open();
  const routes = NetlinkRouteResolver.open();
  let prober: RawSocketProber | undefined;
  try {
    if (!values['no-probe']) {
      try {
        prober = RawSocketProber.open();
      } catch (error) {
        process.stderr.write(`no overlay probe: ${errorMessage(error)}\n`);
      }
    }
    const socket = values.socket ?? DEFAULT_STATUS_SOCKET;
    const facts = await gatherTraceFacts({
      kernel, routes, nowMs: () => Date.now(),
      leases: async () => {
        const { table, problems } = decodeLeaseTable(await getJsonFromStatusSocket(socket, '/leases'));
        for (const problem of problems) process.stderr.write(`ignored: ${problem}\n`);
        return table;
      },
      networks: async () => {
        const { text } = readTextFile(values['subnet-file'] ?? DEFAULT_SUBNET_FILE);
        if (text === undefined) return [];
        const env = parseSubnetEnv(text);
        return [...env.networks, ...env.ipv6Networks];
      },
      firewall: () => readFirewallView(destination.family),
      wireguardPeers: readWireguardPeers,
      ...(prober ? { prober } : {}),
    }, destination, source);
    const report = evaluateTrace(facts);
    process.stdout.write(values.json ? JSON.stringify(report, null, 2) + '\n' : renderTraceText(report));
    return report.ok ? 0 : 1;
  } catch (error) {
    process.stderr.write(`flannelctl trace: ${errorMessage(error)}\n`);
    return 3;
  } finally {
    await prober?.close();
    routes.close();
    kernel.close();
  }
}
