/**
 * `flannelctl trace <dst> [--from <src>] [--socket PATH] [--subnet-file PATH] [etcd flags] [--no-probe] [--json]`:
 * the path of a packet to <dst> from live state, hop by hop (src/ops/trace). Leases come from flanneld's status
 * socket, or from etcd when flanneld does not answer and --etcd-endpoints is given (trace-leases.ts),
 * kernel state from netlink, the firewall from iptables-save, the probe from a raw ICMP socket. Exit 0 when the
 * path is ok, 1 when a hop is broken, 2 on bad arguments, 3 when something needed cannot be read.
 */
import { readFirewallView, readTextFile, readWireguardPeers } from '../adapters/host/host-readers.js';
import { NetlinkKernel } from '../adapters/netlink/netlink-kernel.js';
import { RawSocketProber } from '../adapters/probe/raw-socket-prober.js';
import { NetlinkRouteResolver } from '../adapters/route-lookup/netlink-route-resolver.js';
import { parseSubnetEnv } from '../cni/subnet-env.js';
import { IpAddress } from '../net/ip.js';
import { gatherTraceFacts } from '../ops/trace/gather-trace-facts.js';
import { evaluateTrace } from '../ops/trace/trace-evaluator.js';
import { renderTraceText } from '../ops/trace/trace-text.js';
import { errorMessage } from '../support/errors.js';
import { type CommandInput, type CommandSpec, UsageError } from './cli.js';
import { stringValue } from './cli-parse.js';
import { JSON_OPTION, SOCKET_OPTION, SUBNET_FILE_OPTION } from './common-options.js';
import { ETCD_OPTIONS, etcdSettingsFrom, openEtcdRegistry } from './etcd-flags.js';
import { traceLeaseTable } from './trace-leases.js';

/** flanneld's etcd options, except that no endpoints by default means "the status socket only". */
const { default: _endpointsDefault, ...ENDPOINTS_OPTION } = ETCD_OPTIONS['etcd-endpoints'] as NonNullable<(typeof ETCD_OPTIONS)[string]>;
const TRACE_ETCD_OPTIONS = { ...ETCD_OPTIONS, 'etcd-endpoints': { ...ENDPOINTS_OPTION, help: 'read the leases from etcd when flanneld does not answer on its socket' } };

export const traceCommand: CommandSpec = {
  path: ['trace'],
  summary: 'the path of a packet to DST, hop by hop, each ok or broken with the reason',
  arguments: { synopsis: 'DST', min: 1, max: 1 },
  options: {
    from: { type: 'string', placeholder: 'SRC', help: 'the source address (default: what the kernel would choose)' },
    socket: SOCKET_OPTION,
    'subnet-file': SUBNET_FILE_OPTION,
    'no-probe': { type: 'boolean', help: 'do not send a probe packet over the overlay' },
    ...TRACE_ETCD_OPTIONS,
    json: JSON_OPTION,
  },
  details: 'Exit status: 0 the path is ok, 1 a hop is broken, 2 bad usage, 3 something needed cannot be read.',
  needsNetAdmin: true,
  validate: (input) => {
    addressesOf(input);
    if (input.values['etcd-endpoints'] !== undefined) etcdSettingsFrom(input.values);
  },
  run: trace,
};

/** The destination and --from addresses, or a UsageError naming the bad one. */
function addressesOf({ values, positionals }: CommandInput): { destination: IpAddress; source?: IpAddress } {
  let destination: IpAddress;
  let source: IpAddress | undefined;
  try {
    destination = IpAddress.parse(positionals[0] as string, 'destination');
    const from = values.from as string | undefined;
    source = from === undefined ? undefined : IpAddress.parse(from, '--from');
  } catch (error) {
    throw new UsageError(errorMessage(error));
  }
  if (source && source.family !== destination.family) throw new UsageError('--from and the destination must be of one family');
  return { destination, ...(source ? { source } : {}) };
}

async function trace(input: CommandInput): Promise<number> {
  const { values } = input;
  const { destination, source } = addressesOf(input);
  const kernel = NetlinkKernel.open();
  const routes = NetlinkRouteResolver.open();
  let prober: RawSocketProber | undefined;
  try {
    if (values['no-probe'] !== true) {
      try {
        prober = RawSocketProber.open();
      } catch (error) {
        process.stderr.write(`no overlay probe: ${errorMessage(error)}\n`);
      }
    }
    const subnetEnv = () => {
      const { text } = readTextFile(stringValue(values, 'subnet-file'));
      return text === undefined ? undefined : parseSubnetEnv(text);
    };
    const warn = (line: string) => process.stderr.write(`${line}\n`);
    const facts = await gatherTraceFacts({
      kernel, routes, nowMs: () => Date.now(),
      leases: () => traceLeaseTable({
        socket: stringValue(values, 'socket'), warn, ownSubnet: () => subnetEnv()?.subnet,
        ...(values['etcd-endpoints'] !== undefined
          ? { openStore: () => openEtcdRegistry(etcdSettingsFrom(values), (message) => warn(`warning: ${message}`)) }
          : {}),
      }),
      networks: async () => {
        const env = subnetEnv();
        return env ? [...env.networks, ...env.ipv6Networks] : [];
      },
      firewall: () => readFirewallView(destination.family),
      wireguardPeers: readWireguardPeers,
      ...(prober ? { prober } : {}),
    }, destination, source);
    const report = evaluateTrace(facts);
    process.stdout.write(values.json === true ? JSON.stringify(report, null, 2) + '\n' : renderTraceText(report));
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
