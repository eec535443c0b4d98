/**
 * Benchmark, pod → pod over wireguard (userspace: wireguard-go supervised by flanneld) vs vxlan vs udp, in one
 * run: one 2-host lab per backend (real etcd, real flanneld, CNI pods), all up at once, rounds alternating the
 * order of backends. Per round and backend: iperf3 TCP, 1 stream, pod → pod (Gbit/s), and ping RTT p50/p90 over
 * 200 pings 5 ms apart (after 20 warm-up pings). Host → host over the underlay once per round for context.
 *
 * Then, per backend, the time for a new lease to become a working peer: h2's flanneld is stopped and its lease
 * deleted (h1 drops the peer), a pinger in h1's pod sends every 10 ms, h2's flanneld starts again and creates a
 * new lease; measured from the lease's creation (h2's `lease acquired` log time) to the first answered ping,
 * and to h1's programming of the peer (`wireguard device configured` / `kernel state reconciled`). Backends in a
 * lab only.
 *
 * Run as root after `npm run build`: node dist/bench/wireguard-dataplane.js [--seconds 5] [--rounds 4] [--joins 5]
 * Prints medians with the samples and the ratios to vxlan; writes bench/results/wireguard-dataplane.json. Lab
 * prefixes carry FLANNEL_TS_LAB_TAG; everything stays inside the labs' namespaces and is removed at the end.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { Lab } from '../src/lab/lab.js';
import type { LabHost } from '../src/lab/lab-layout.js';
import { sleep } from '../src/support/timing.js';
import { saveResult } from './bench-namespace.js';
import { iperf, iperfBetween, median, pingRtt } from './udp-bench-lab.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '5' }, rounds: { type: 'string', default: '4' }, joins: { type: 'string', default: '5' } } });
const seconds = Number(values.seconds);
const rounds = Number(values.rounds);
const joins = Number(values.joins);
const tag = process.env.FLANNEL_TS_LAB_TAG ?? '';
const SUBNETS = '/coreos.com/network/subnets/';

type Kind = 'wireguard' | 'vxlan' | 'udp';
const kinds: Kind[] = ['wireguard', 'vxlan', 'udp'];
const labs = new Map<Kind, Lab>(kinds.map((kind) => [kind, new Lab({
  prefix: `fb${kind.slice(0, 2)}${tag}`, hosts: 2, backend: kind, cniDelegate: { ipMasq: false }, flanneldArgs: ['--logging-format', 'json'],
  ...(kind === 'wireguard' ? { backendOptions: { Implementation: 'userspace' } } : {}),
})]));

const round2 = (value: number) => Number(value.toFixed(2));

interface JoinSample {
  readonly leaseToPingMs: number;
  readonly leaseToPeerProgrammedMs: number;
}

/** JSON log lines of a host's flanneld at or after `sinceMs`. */
function logEntries(lab: Lab, host: LabHost, sinceMs: number): Array<{ time: number; msg: string; [key: string]: unknown }> {
  return lab.flanneldLog(host).split('\n').flatMap((line) => {
    if (!line.startsWith('{')) return [];
    const entry = JSON.parse(line) as { time: number; msg: string };
    return entry.time >= sinceMs ? [entry] : [];
  });
}

async function waitUntil(what: string, condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** One join: h2 leaves (stopped, lease deleted), then comes back with a new lease; see the file comment. */
async function join(kind: Kind, lab: Lab): Promise<JoinSample> {
  const [h1, h2] = lab.layout.hosts as [LabHost, LabHost];
  const target = lab.podIp(h2) as string;
  await lab.stopFlanneld(h2, 'SIGTERM');
  const key = lab.etcdctl(['get', '--prefix', SUBNETS, '--keys-only']).stdout.split('\n').find((line) => {
    return line.startsWith(SUBNETS) && lab.etcdctl(['get', line, '--print-value-only']).stdout.includes(`"PublicIP":"${h2.underlayIp}"`);
  });
  if (!key) throw new Error(`${kind}: no lease of h2`);
  lab.etcdctl(['del', key]);
  await waitUntil(`${kind}: h1 stops reaching h2's pod`, () => !lab.ping(h1.podNetns, target, 1, 1), 10_000);
  await sleep(300);
  // No -w: with a deadline, ping stops at the first ICMP error (h1 answers "net unreachable" while it has no route).
  const pinger: ChildProcess = spawn('ip', ['netns', 'exec', h1.podNetns, 'ping', '-D', '-n', '-i', '0.01', '-W', '1', '-c', '3000', target], { stdio: ['ignore', 'pipe', 'ignore'] });
  let firstReplyMs: number | undefined;
  let pending = '';
  pinger.stdout?.on('data', (chunk: Buffer) => {
    pending += chunk.toString();
    const match = /^\[(\d+\.\d+)\] \d+ bytes from /m.exec(pending);
    if (match && firstReplyMs === undefined) firstReplyMs = Number(match[1]) * 1000;
  });
  const startedMs = Date.now();
  lab.startFlanneld(h2);
  try {
    await waitUntil(`${kind}: first ping answered`, () => firstReplyMs !== undefined, 30_000);
  } finally {
    pinger.kill('SIGTERM');
  }
  const leaseMs = logEntries(lab, h2, startedMs).find((entry) => entry.msg === 'lease acquired')?.time;
  if (leaseMs === undefined) throw new Error(`${kind}: h2 logged no new lease`);
  // h1 may log before h2 does (h2 logs once etcd answered its create; h1's watch may be told first), so h1's
  // entries are searched from h2's start; a figure slightly below 0 means "at the same time".
  const programmed = kind === 'wireguard'
    ? logEntries(lab, h1, startedMs).find((entry) => entry.msg === 'wireguard device configured' && JSON.stringify(entry.differences ?? []).includes('missing'))
    : logEntries(lab, h1, startedMs).find((entry) => entry.msg === 'kernel state reconciled' && Number(entry.routes ?? 0) > 0);
  return { leaseToPingMs: Math.round((firstReplyMs as number) - leaseMs), leaseToPeerProgrammedMs: Math.round((programmed?.time ?? NaN) - leaseMs) };
}

try {
  for (const lab of labs.values()) await lab.down();
  for (const [kind, lab] of labs) {
    await lab.up();
    const [h1, h2] = lab.layout.hosts as [LabHost, LabHost];
    if (!lab.ping(h1.podNetns, lab.podIp(h2) as string, 3, 2)) throw new Error(`${kind}: pods do not reach each other`);
  }
  console.log(`pod → pod over 2 hosts each: ${kinds.join(', ')}`);
  console.log(`iperf3 TCP 1 stream ${seconds} s, ping 200 × 5 ms; ${rounds} rounds, order rotated each round`);
  const samples = new Map<Kind, { gbps: number[]; rttP50: number[]; rttP90: number[] }>(kinds.map((kind) => [kind, { gbps: [], rttP50: [], rttP90: [] }]));
  const underlay: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const order = kinds.map((_, index) => kinds[(index + round) % kinds.length] as Kind);
    for (const kind of order) {
      const lab = labs.get(kind) as Lab;
      const [from, to] = lab.layout.hosts as [LabHost, LabHost];
      const sample = samples.get(kind) as { gbps: number[]; rttP50: number[]; rttP90: number[] };
      sample.gbps.push(await iperf(lab, from, to, 1, seconds));
      const rtt = pingRtt(from.podNetns, lab.podIp(to) as string, 200, 20);
      sample.rttP50.push(rtt.p50);
      sample.rttP90.push(rtt.p90);
    }
    const vxlan = labs.get('vxlan') as Lab;
    const [u1, u2] = vxlan.layout.hosts as [LabHost, LabHost];
    underlay.push(await iperfBetween(u1.netns, u2.netns, u2.underlayIp, 1, seconds));
    console.log(`round ${round + 1}: ${order.map((kind) => `${kind} ${samples.get(kind)?.gbps.at(-1)?.toFixed(2)} Gbit/s ${samples.get(kind)?.rttP50.at(-1)?.toFixed(3)} ms`).join(', ')}, underlay ${underlay.at(-1)?.toFixed(2)} Gbit/s`);
  }

  const joinSamples = new Map<Kind, JoinSample[]>(kinds.map((kind) => [kind, []]));
  for (let index = 0; index < joins; index++) {
    for (const kind of index % 2 === 0 ? kinds : [...kinds].reverse()) joinSamples.get(kind)?.push(await join(kind, labs.get(kind) as Lab));
  }

  const vxlanGbps = median(samples.get('vxlan')?.gbps ?? []);
  const vxlanRtt = median(samples.get('vxlan')?.rttP50 ?? []);
  const result: Record<string, unknown> = { seconds, rounds, joins, underlayGbps: underlay.map(round2), underlayMedianGbps: round2(median(underlay)) };
  console.log('\nmedians [samples]');
  for (const kind of kinds) {
    const sample = samples.get(kind) as { gbps: number[]; rttP50: number[]; rttP90: number[] };
    const joined = joinSamples.get(kind) as JoinSample[];
    const gbps = median(sample.gbps);
    const rtt = median(sample.rttP50);
    const leaseToPing = joined.map((entry) => entry.leaseToPingMs);
    const leaseToProgrammed = joined.map((entry) => entry.leaseToPeerProgrammedMs);
    result[kind] = {
      gbps: round2(gbps), gbpsSamples: sample.gbps.map(round2), toVxlanGbps: round2(gbps / vxlanGbps),
      rttP50Ms: Number(rtt.toFixed(3)), rttP90Ms: Number(median(sample.rttP90).toFixed(3)), rttP50Samples: sample.rttP50, toVxlanRtt: round2(rtt / vxlanRtt),
      newLeaseToFirstPingMs: { median: median(leaseToPing), min: Math.min(...leaseToPing), max: Math.max(...leaseToPing), samples: leaseToPing },
      newLeaseToPeerProgrammedMs: { median: median(leaseToProgrammed), samples: leaseToProgrammed },
    };
    console.log(`${kind.padEnd(9)} ${gbps.toFixed(2)} Gbit/s [${sample.gbps.map((v) => v.toFixed(2)).join(' ')}] (×${(gbps / vxlanGbps).toFixed(2)} of vxlan), ` +
      `RTT p50 ${rtt.toFixed(3)} ms [${sample.rttP50.map((v) => v.toFixed(3)).join(' ')}] p90 ${median(sample.rttP90).toFixed(3)} (×${(rtt / vxlanRtt).toFixed(2)} of vxlan); ` +
      `new lease → first ping ${median(leaseToPing)} ms [${leaseToPing.join(' ')}], → peer programmed on h1 ${median(leaseToProgrammed)} ms [${leaseToProgrammed.join(' ')}]`);
  }
  console.log(`underlay host → host ${median(underlay).toFixed(2)} Gbit/s [${underlay.map((v) => v.toFixed(2)).join(' ')}]`);
  saveResult('wireguard-dataplane', result);
} finally {
  for (const lab of labs.values()) await lab.down();
}
