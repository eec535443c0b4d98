/**
 * `flannelctl doctor` judged, pure: one pass/warn/fail per check over DoctorFacts. A fail is something that
 * breaks pod traffic (forwarding off, FORWARD dropping the pod network, no /dev/net/tun for udp, the link kind
 * missing, subnet.env disagreeing with the lease, an expired lease, duplicate public IPs or VTEP MACs, an MTU
 * that does not fit, peers not answering over the overlay); a warn is a risk or something not checkable.
 */
import type { Link } from '../../dataplane/kernel-objects.js';
import type { Lease } from '../../lease/lease.js';
import { forwardAllows } from '../firewall-view.js';
import { vtepMacOf } from '../lease-backend-data.js';
import { overheadBytes } from '../trace/trace-backend-hops.js';
import type { CheckResult, DoctorCheck, DoctorFacts } from './doctor-facts.js';

/** Below this much lease time left, renewal (due an hour before expiry by default) is overdue. */
export const LEASE_WARN_SECONDS = 50 * 60;

export function runDoctorChecks(facts: DoctorFacts): DoctorCheck[] {
  const checks: DoctorCheck[] = [];
  const add = (name: string, result: CheckResult, detail: string) => checks.push({ name, result, detail });
  const backend = facts.status?.backend?.type ?? (facts.leases?.own ? facts.leases.own.attrs.backendType || 'udp' : undefined);

  if (facts.status) add('flanneld', facts.status.flanneld.ready ? 'pass' : 'warn', `flanneld ${facts.status.flanneld.version} pid ${facts.status.flanneld.pid} is ${facts.status.flanneld.ready ? 'ready' : 'NOT ready'}`);
  else add('flanneld', 'fail', `flanneld's status socket: ${facts.statusError ?? 'not read'} (lease, subnet.env and probe checks need it)`);

  const v6 = facts.networks.some((network) => network.family === 6);
  const forward = facts.sysctls['net/ipv4/ip_forward'];
  add('ip_forward', forward === '1' ? 'pass' : 'fail', forward === '1' ? 'net.ipv4.ip_forward = 1' : `net.ipv4.ip_forward = ${forward ?? 'unreadable'}: this host does not forward pod traffic`);
  if (v6) {
    const forward6 = facts.sysctls['net/ipv6/conf/all/forwarding'];
    add('ipv6 forwarding', forward6 === '1' ? 'pass' : 'fail', `net.ipv6.conf.all.forwarding = ${forward6 ?? 'unreadable'}`);
  }
  checks.push(rpFilterCheck(facts));

  const bridgeNf = facts.sysctls['net/bridge/bridge-nf-call-iptables'];
  add('br_netfilter', bridgeNf === '1' ? 'pass' : 'warn', bridgeNf === undefined
    ? 'br_netfilter is not loaded: iptables (kube-proxy\'s service rules) does not see traffic between pods on one bridge'
    : `net.bridge.bridge-nf-call-iptables = ${bridgeNf}${bridgeNf === '1' ? '' : ': bridged pod traffic bypasses iptables'}`);

  if (!facts.firewall) add('FORWARD policy', 'warn', 'iptables-save unavailable: FORWARD chain not checked');
  else {
    const blocked = facts.networks.filter((network) => !forwardAllows(facts.firewall!, network));
    add('FORWARD policy', blocked.length === 0 ? 'pass' : 'fail', blocked.length === 0
      ? `FORWARD policy ${facts.firewall.forwardPolicy ?? 'ACCEPT'}${facts.firewall.forwardPolicy === 'DROP' ? ', pod networks accepted' : ''}`
      : `FORWARD policy DROP and nothing accepts ${blocked.join(', ')} (run flanneld with --iptables-forward-rules)`);
  }

  const needsTun = backend === 'udp';
  add('/dev/net/tun', facts.tunDevice ? 'pass' : needsTun ? 'fail' : 'pass', facts.tunDevice ? '/dev/net/tun present' : `/dev/net/tun missing${needsTun ? ': the udp backend cannot open its TUN device' : ' (not needed by this backend)'}`);
  if (facts.linkKind) add(`${facts.linkKind.kind} links`, facts.linkKind.ok ? 'pass' : 'fail', facts.linkKind.ok ? `the kernel creates ${facts.linkKind.kind} devices (tried in a scratch namespace)` : `the kernel refuses ${facts.linkKind.kind} devices: ${facts.linkKind.error}`);

  if (facts.status) {
    const env = facts.status.subnetEnv;
    add('subnet.env', env.matches ? 'pass' : 'fail', env.matches ? `${env.path} matches the lease` : `${env.path}: ${env.problems.join('; ')}`);
    const lease = facts.status.lease;
    if (!lease) add('lease', 'fail', 'flanneld holds no lease');
    else if (lease.expired) add('lease', 'fail', `our lease ${lease.subnet} expired at ${lease.expiresAt}`);
    else if (lease.expiresInSeconds !== null && lease.expiresInSeconds < LEASE_WARN_SECONDS) add('lease', 'warn', `our lease ${lease.subnet} expires in ${lease.expiresInSeconds} s: renewal is overdue`);
    else add('lease', 'pass', `our lease ${lease.subnet} ${lease.expiresAt === null ? 'never expires' : `expires ${lease.expiresAt}`}`);
  }
  if (facts.leases) checks.push(...duplicateChecks(facts.leases));
  checks.push(...mtuChecks(facts));
  checks.push(...cniChecks(facts));
  if (facts.probes) checks.push(probeCheck(facts.probes));
  return checks;
}

/** Effective rp_filter on a device is max(all, device); strict (1) on the overlay or bridge can drop pod traffic. */
function rpFilterCheck(facts: DoctorFacts): DoctorCheck {
  const all = Number(facts.sysctls['net/ipv4/conf/all/rp_filter'] ?? 0);
  const devices = facts.links.filter((link) => /^(flannel|cni0$)/.test(link.name)).map((link) => link.name);
  const strict = devices.filter((name) => Math.max(all, Number(facts.sysctls[`net/ipv4/conf/${name}/rp_filter`] ?? 0)) === 1);
  return strict.length === 0
    ? { name: 'rp_filter', result: 'pass', detail: `rp_filter all=${all}${devices.length ? `; ${devices.join(', ')} not strict` : ''}` }
    : { name: 'rp_filter', result: 'warn', detail: `strict reverse-path filtering on ${strict.join(', ')}: asymmetric pod traffic is dropped (use 0 or 2)` };
}

function duplicateChecks(table: NonNullable<DoctorFacts['leases']>): DoctorCheck[] {
  const leases: Lease[] = [...(table.own ? [table.own] : []), ...table.admitted, ...table.rejected.map((entry) => entry.lease)];
  const duplicates = (key: (lease: Lease) => string[]) => {
    const owners = new Map<string, string[]>();
    for (const lease of leases) for (const value of key(lease)) owners.set(value, [...(owners.get(value) ?? []), lease.subnet.toString()]);
    return [...owners].filter(([, subnets]) => subnets.length > 1).map(([value, subnets]) => `${value} (${subnets.join(', ')})`);
  };
  const ips = duplicates((lease) => [lease.attrs.publicIP, lease.attrs.publicIPv6].flatMap((ip) => (ip && !ip.isUnspecified() ? [ip.toString()] : [])));
  const macs = duplicates((lease) => [vtepMacOf(lease.attrs.backendData), vtepMacOf(lease.attrs.backendV6Data)].flatMap((mac) => (mac ? [mac.toString()] : [])));
  return [
    { name: 'public IPs', result: ips.length ? 'fail' : 'pass', detail: ips.length ? `shared by several leases: ${ips.join('; ')}` : `${leases.length} leases, all public IPs distinct` },
    { name: 'VTEP MACs', result: macs.length ? 'fail' : 'pass', detail: macs.length ? `shared by several leases: ${macs.join('; ')}` : 'all VTEP MACs distinct' },
  ];
}

function mtuChecks(facts: DoctorFacts): DoctorCheck[] {
  const checks: DoctorCheck[] = [];
  const overlays = facts.links.filter((link) => overheadBytes(link, 4) !== undefined && /^flannel/.test(link.name));
  for (const device of overlays) {
    const uplink = device.vxlan?.underlayIndex === undefined ? undefined : facts.links.find((link) => link.index === device.vxlan?.underlayIndex);
    const family = device.name.includes('-v6') ? 6 : 4;
    const overhead = overheadBytes(device, family) as number;
    if (!uplink) {
      checks.push({ name: `MTU ${device.name}`, result: 'pass', detail: `${device.name} MTU ${device.mtu} (underlay device unknown)` });
      continue;
    }
    const fits = device.mtu + overhead <= uplink.mtu;
    checks.push({ name: `MTU ${device.name}`, result: fits ? 'pass' : 'fail', detail: `${device.name} ${device.mtu} + ${overhead} ${fits ? '≤' : '>'} ${uplink.name} ${uplink.mtu}` });
  }
  const bridge = facts.links.find((link) => link.name === 'cni0');
  const overlay: Link | undefined = overlays[0];
  if (bridge && overlay && bridge.mtu > overlay.mtu) {
    checks.push({ name: 'MTU cni0', result: 'warn', detail: `cni0 MTU ${bridge.mtu} > ${overlay.name} MTU ${overlay.mtu}: pods send packets the overlay must drop` });
  }
  return checks;
}

function cniChecks(facts: DoctorFacts): DoctorCheck[] {
  const { confDir, configs, pluginPath, pluginPresent } = facts.cni;
  const usesFlannel = (text: string): boolean => {
    try {
      const document = JSON.parse(text) as { type?: unknown; plugins?: Array<{ type?: unknown }> };
      return document.type === 'flannel' || (Array.isArray(document.plugins) && document.plugins.some((plugin) => plugin?.type === 'flannel'));
    } catch {
      return false;
    }
  };
  const candidates = configs.filter((config) => /\.(conflist|conf|json)$/.test(config.name));
  const ours = candidates.find((config) => usesFlannel(config.text));
  const checks: DoctorCheck[] = [];
  if (!ours) checks.push({ name: 'CNI config', result: 'warn', detail: `no network config in ${confDir} uses the flannel plugin (fine when not running pods through CNI)` });
  else {
    // The runtime uses the lexically first config; another one before ours takes the pods.
    const first = candidates[0] as { name: string };
    checks.push(first.name === ours.name
      ? { name: 'CNI config', result: 'pass', detail: `${confDir}/${ours.name} uses flannel` }
      : { name: 'CNI config', result: 'warn', detail: `${confDir}/${first.name} comes before ${ours.name}: the runtime uses it, not flannel` });
  }
  checks.push({
    name: 'CNI plugin', result: pluginPresent ? 'pass' : ours ? 'fail' : 'warn',
    detail: pluginPresent ? `${pluginPath} is installed` : `${pluginPath} is missing or not executable${ours ? ': pods cannot be created' : ''}`,
  });
  return checks;
}

function probeCheck(probes: NonNullable<DoctorFacts['probes']>): DoctorCheck {
  const failed = probes.outcomes.filter((outcome) => outcome.result !== 'ok');
  const answered = probes.outcomes.length - failed.length;
  const sample = probes.outcomes.length < probes.peers ? ` (a sample of ${probes.outcomes.length} of ${probes.peers} peers)` : '';
  if (probes.outcomes.length === 0) return { name: 'overlay probe', result: 'warn', detail: `no peer probed${probes.skipped.length ? `: ${probes.skipped.join('; ')}` : ''}` };
  if (failed.length === 0) return { name: 'overlay probe', result: 'pass', detail: `${answered} peer${answered === 1 ? '' : 's'} answered over the overlay${sample}` };
  return {
    name: 'overlay probe', result: 'fail',
    detail: `unreachable over the overlay: ${failed.map((outcome) => `${outcome.peer}${outcome.error ? ` (${outcome.error})` : ''}`).join(', ')}; ${answered} answered${sample}`,
  };
}

/** Non-zero exit when any check failed. */
export function doctorExitCode(checks: readonly DoctorCheck[]): number {
  return checks.some((check) => check.result === 'fail') ? 1 : 0;
}
