/**
 * By-hand check (not in the test suite: CI cannot build upstream's binary): a cluster mixing our flanneld and
 * upstream's flanneld v0.20.2, both on the udp backend, in one lab of 4 hosts. Two layouts, one after the
 * other, as a rolling replacement would pass through them: ours on h1 and h3 with upstream on h2 and h4, then
 * every host swapped (leases are reused by public IP, so subnets stay). In each: every pod pings every other
 * pod (10 pings each), TCP ours → upstream and upstream → ours, each host's lease as written in etcd (both
 * implementations must write the same shape), and our data paths' drop counters (a member's datagram must
 * never be counted as from an unknown source). Prints the matrix, exits 1 on any failed pair or drop, writes
 * bench/results/udp-mixed-cluster.json.
 *
 * Run as root after `npm run build`:
 *   FLANNEL_TS_LAB_TAG=<tag> node dist/bench/udp-mixed-cluster.js [--seconds 4]
 * Needs etcd and iperf3 (scripts/setup.sh) and upstream's binary (FLANNEL_TS_UPSTREAM_FLANNELD, default
 * /work/upstream/flanneld-v0.20.2). Everything stays in the lab's namespaces, removed at the end.
 */
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { LabHost } from '../src/lab/lab-layout.js';
import { sleep } from '../src/support/timing.js';
import { saveResult } from './bench-namespace.js';
import { type Kind, UPSTREAM_FLANNELD, benchLab, iperf, loggedCounters, pingRtt, running, startKinds, stopAll } from './udp-bench-lab.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '4' } } });
const seconds = Number(values.seconds);
if (process.getuid?.() !== 0) throw new Error('run as root (network namespaces)');
if (!existsSync(UPSTREAM_FLANNELD)) throw new Error(`no upstream flanneld at ${UPSTREAM_FLANNELD}: build it with shared/tools/build-upstream-flanneld.sh`);

const lab = benchLab(4);
const hosts = lab.layout.hosts as [LabHost, LabHost, LabHost, LabHost];
const label = (host: LabHost) => `${host.name}(${running.get(host.name)})`;

/** Each lease in etcd by subnet key, as its writer left it (JSON text). */
function leases(): Record<string, unknown> {
  const output = lab.etcdctl(['get', '--prefix', '/coreos.com/network/subnets/']).stdout.trim().split('\n');
  const result: Record<string, unknown> = {};
  for (let index = 0; index + 1 < output.length; index += 2) result[(output[index] as string).split('/').at(-1) as string] = JSON.parse(output[index + 1] as string);
  return result;
}

async function layout(kinds: readonly Kind[]): Promise<{ failures: string[]; report: Record<string, unknown> }> {
  await startKinds(lab, hosts.map((host, index) => [host, kinds[index] as Kind]));
  const name = hosts.map(label).join(', ');
  const matrix: Record<string, string> = {};
  const failures: string[] = [];
  for (const from of hosts) {
    for (const to of hosts) {
      if (from === to) continue;
      const result = pingRtt(from.podNetns, lab.podIp(to) as string, 10, 0);
      matrix[`${label(from)}→${label(to)}`] = `${10 - result.lost}/10 p50 ${result.p50} ms`;
      if (result.lost > 0) failures.push(`${label(from)}→${label(to)} lost ${result.lost}/10`);
    }
  }
  const ours = hosts.find((host) => running.get(host.name) === 'ours') as LabHost;
  const theirs = hosts.find((host) => running.get(host.name) === 'upstream') as LabHost;
  const tcp = { oursToUpstreamGbps: await iperf(lab, ours, theirs, 1, seconds), upstreamToOursGbps: await iperf(lab, theirs, ours, 1, seconds) };
  if (tcp.oursToUpstreamGbps === 0 || tcp.upstreamToOursGbps === 0) failures.push(`TCP between ${label(ours)} and ${label(theirs)} carried nothing`);
  await sleep(1100); // our data path logs its counters once a second
  const drops: Record<string, Record<string, number>> = {};
  for (const host of hosts.filter((candidate) => running.get(candidate.name) === 'ours')) {
    const counters = loggedCounters(lab, host);
    if (!counters) failures.push(`${label(host)}: no counters logged`);
    drops[label(host)] = Object.fromEntries(Object.entries(counters ?? {}).filter(([key, value]) => key.startsWith('drop') && value > 0));
    if ((counters?.dropUnknownSource ?? 0) > 0) failures.push(`${label(host)}: ${counters?.dropUnknownSource} datagrams from members dropped as unknown`);
  }
  const pairs = Object.keys(matrix).length;
  console.log(`\n${name}: ${pairs - failures.filter((line) => line.includes('lost')).length}/${pairs} pod pairs answered every ping`);
  for (const [pair, value] of Object.entries(matrix)) console.log(`  ${pair.padEnd(30)} ${value}`);
  console.log(`  TCP ${label(ours)}→${label(theirs)} ${tcp.oursToUpstreamGbps.toFixed(2)} Gbit/s, back ${tcp.upstreamToOursGbps.toFixed(2)} Gbit/s`);
  const written = leases();
  for (const [key, lease] of Object.entries(written)) console.log(`  lease ${key.padEnd(16)} ${JSON.stringify(lease)}`);
  console.log(`  our drops: ${JSON.stringify(drops)}`);
  return { failures, report: { layout: name, pingMatrix: matrix, tcp, leases: written, ourDrops: drops, failures } };
}

const failures: string[] = [];
try {
  await lab.down();
  await lab.up();
  const reports = [];
  for (const kinds of [['ours', 'upstream', 'ours', 'upstream'], ['upstream', 'ours', 'upstream', 'ours']] as const) {
    const result = await layout(kinds);
    failures.push(...result.failures);
    reports.push(result.report);
  }
  saveResult('udp-mixed-cluster', { seconds, layouts: reports, failures });
  console.log(failures.length === 0 ? '\nmixed cluster: every pair answered, TCP both ways, no member dropped' : `\nmixed cluster FAILED:\n  ${failures.join('\n  ')}`);
} finally {
  await stopAll(lab);
  await lab.down();
}
process.exitCode = failures.length === 0 ? 0 : 1;
