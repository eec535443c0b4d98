/**
 * `flannelctl doctor [--socket PATH] [--subnet-file PATH] [--cni-conf-dir DIR] [--cni-plugin PATH]
 * [--probe-limit N] [--no-probe] [--json]`: host checks with pass/warn/fail (src/ops/doctor/doctor-checks.ts),
 * exit 1 when any check fails. Reads sysctls, iptables-save, /dev/net/tun, CNI files and the kernel; tries the
 * backend's link kind in a scratch namespace; asks flanneld's status socket for its status and leases; and
 * probes peers over the overlay (all of them up to --probe-limit, default 64, else a sample of that many).
 */
import {
  isCharacterDevice, isExecutable, probeLinkKind, readDirectoryFiles, readFirewallView, readSysctl, readTextFile,
} from '../adapters/host/host-readers.js';
import { getJsonFromStatusSocket } from '../adapters/http/status-client.js';
import { NetlinkKernel } from '../adapters/netlink/netlink-kernel.js';
import { RawSocketProber } from '../adapters/probe/raw-socket-prober.js';
import { parseSubnetEnv } from '../cni/subnet-env.js';
import type { Cidr } from '../net/ip.js';
import { runDoctorChecks, doctorExitCode } from '../ops/doctor/doctor-checks.js';
import type { DoctorFacts } from '../ops/doctor/doctor-facts.js';
import { decodeLeaseTable } from '../ops/lease-records.js';
import { samplePeers } from '../ops/probe/peer-sample.js';
import { type ProbeTarget, probeTargetFor } from '../ops/probe/probe-target.js';
import type { LeaseTable, StatusDocument } from '../ops/status-document.js';
import { checkStatusDocument } from '../ops/status-text.js';
import { errorMessage } from '../support/errors.js';
import type { CommandInput, CommandSpec } from './cli.js';
import { countValue, stringValue } from './cli-parse.js';
import { JSON_OPTION, SOCKET_OPTION, SUBNET_FILE_OPTION } from './common-options.js';

const LINK_KINDS: Readonly<Record<string, string>> = { vxlan: 'vxlan', wireguard: 'wireguard', udp: 'tun', ipip: 'ipip' };
const PROBE_TIMEOUT_MS = 1500;

export const doctorCommand: CommandSpec = {
  path: ['doctor'],
  summary: 'host checks, pass/warn/fail; exit 1 on a fail',
  options: {
    socket: SOCKET_OPTION,
    'subnet-file': SUBNET_FILE_OPTION,
    'cni-conf-dir': { type: 'string', default: '/etc/cni/net.d', placeholder: 'DIR', help: 'where the CNI network configs are' },
    'cni-plugin': { type: 'string', default: '/opt/cni/bin/flannel', placeholder: 'PATH', help: 'the flannel CNI plugin' },
    'probe-limit': { type: 'string', default: '64', placeholder: 'N', help: 'probe every peer up to N of them, else a sample of N' },
    'no-probe': { type: 'boolean', help: 'do not probe peers over the overlay' },
    json: JSON_OPTION,
  },
  details: 'Exit status: 0 no check failed (warnings allowed), 1 a check failed, 2 bad usage.',
  needsNetAdmin: true,
  validate: ({ values }) => void countValue(values, 'probe-limit'),
  run: doctor,
};

async function doctor({ values }: CommandInput): Promise<number> {
  const probeLimit = countValue(values, 'probe-limit');
  const socket = stringValue(values, 'socket');
  let status: StatusDocument | undefined;
  let statusError: string | undefined;
  let leases: LeaseTable | undefined;
  try {
    status = checkStatusDocument(await getJsonFromStatusSocket(socket, '/status'));
    leases = decodeLeaseTable(await getJsonFromStatusSocket(socket, '/leases')).table;
  } catch (error) {
    statusError = errorMessage(error);
  }
  const networks: Cidr[] = [];
  const env = readTextFile(stringValue(values, 'subnet-file'));
  try {
    if (env.text !== undefined) networks.push(...parseSubnetEnv(env.text).networks, ...parseSubnetEnv(env.text).ipv6Networks);
  } catch {
    // The subnet.env check (from the status document) reports a bad file.
  }
  const kernel = NetlinkKernel.open();
  try {
    const links = await kernel.listLinks();
    const backend = status?.backend?.type ?? (leases?.own ? leases.own.attrs.backendType || 'udp' : undefined);
    const kind = backend === undefined ? undefined : LINK_KINDS[backend];
    const sysctlNames = ['net/ipv4/ip_forward', 'net/ipv6/conf/all/forwarding', 'net/ipv4/conf/all/rp_filter', 'net/bridge/bridge-nf-call-iptables',
      ...links.filter((link) => /^(flannel|cni0$)/.test(link.name)).map((link) => `net/ipv4/conf/${link.name}/rp_filter`)];
    const firewall = await readFirewallView(4);
    const facts: DoctorFacts = {
      nowMs: Date.now(),
      ...(status ? { status } : {}), ...(statusError ? { statusError } : {}), ...(leases ? { leases } : {}),
      networks,
      sysctls: Object.fromEntries(sysctlNames.map((name) => [name, readSysctl(name)])),
      links,
      ...(firewall ? { firewall } : {}),
      tunDevice: isCharacterDevice('/dev/net/tun'),
      ...(kind ? { linkKind: { kind, ...(await probeLinkKind(kind)) } } : {}),
      cni: { confDir: stringValue(values, 'cni-conf-dir'), configs: readDirectoryFiles(stringValue(values, 'cni-conf-dir')), pluginPath: stringValue(values, 'cni-plugin'), pluginPresent: isExecutable(stringValue(values, 'cni-plugin')) },
      ...(values['no-probe'] === true || !leases?.own || !backend ? {} : { probes: await probePeers(leases, backend, links, probeLimit) }),
    };
    const checks = runDoctorChecks(facts);
    if (values.json === true) process.stdout.write(JSON.stringify(checks, null, 2) + '\n');
    else for (const check of checks) process.stdout.write(`${check.result.toUpperCase().padEnd(4)}  ${check.name.padEnd(18)} ${check.detail}\n`);
    return doctorExitCode(checks);
  } finally {
    kernel.close();
  }
}

async function probePeers(leases: LeaseTable, backend: string, links: DoctorFacts['links'], limit: number): Promise<NonNullable<DoctorFacts['probes']>> {
  const own = leases.own as NonNullable<LeaseTable['own']>;
  const device = links.find((link) => link.kind === 'vxlan' && /^flannel\.\d+$/.test(link.name));
  const context = {
    backendType: backend === 'udp' ? '' : backend, own,
    ...(device?.mac ? { ownVtepMac: device.mac } : {}), ...(device?.vxlan?.vni === undefined ? {} : { vni: device.vxlan.vni }),
    ...(device?.vxlan?.port === undefined ? {} : { port: device.vxlan.port }),
  };
  const chosen = samplePeers(leases.admitted, (lease) => lease.subnet.toString(), limit, 0);
  const targets: ProbeTarget[] = [];
  const skipped: string[] = [];
  for (const peer of chosen) {
    const target = probeTargetFor(context, peer);
    if ('skip' in target) skipped.push(target.skip);
    else targets.push(target);
  }
  let prober: RawSocketProber;
  try {
    prober = RawSocketProber.open();
  } catch (error) {
    return { outcomes: [], peers: leases.admitted.length, skipped: [...skipped, errorMessage(error)] };
  }
  try {
    return { outcomes: await prober.probe(targets, PROBE_TIMEOUT_MS), peers: leases.admitted.length, skipped };
  } finally {
    await prober.close();
  }
}
