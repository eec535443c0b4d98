/**
 * Benchmark, udp data path, side by side in one run: our forwarder (worker thread, batched syscalls, TSO/GSO/GRO
 * offloads) against upstream flanneld v0.20.2's udp backend (its C proxy), pod → pod across two hosts with the
 * same topology, the same pods and the same subnets (udp-bench-hosts.ts). Per round and forwarder: ping RTT
 * (p50/p90), iperf3 TCP with 1 and 4 streams, CPU time of both forwarders per Gbit/s, and for ours where the time
 * goes (syscalls per packet, packets per syscall, offload use). Rounds alternate the order (ABBA…); medians and
 * every sample are printed. Then a mixed pair — ours on h1, upstream on h2 — proves wire compatibility: pings and
 * TCP both ways. Writes bench/results/udp-dataplane.json.
 * Run as root after `npm run build`: node dist/bench/udp-dataplane.js [--seconds 8] [--rounds 4] [--pings 300] [--plain]
 * (--plain adds ours without offloads, batched syscalls only, to each round.)
 * Needs etcd and iperf3 (scripts/setup.sh) and the upstream binary (FLANNEL_TS_UPSTREAM_FLANNELD, default
 * /work/upstream/flanneld-v0.20.2, built by shared/tools/build-upstream-flanneld.sh). Everything runs in
 * namespaces named ftbu-…, deleted by name afterwards; processes are stopped by pid.
 */
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { type CountersSnapshot } from '../src/backend/udp/datapath-counters.js';
import { sleep } from '../src/support/timing.js';
import { saveResult } from './bench-namespace.js';
import {
  type BenchHost, type Forwarder, HOSTS, UPSTREAM_FLANNELD, buildTopology, cpuSeconds, iperf, pingRtt, startOurs, startUpstream, tearDown,
} from './udp-bench-hosts.js';

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '8' }, rounds: { type: 'string', default: '4' }, pings: { type: 'string', default: '300' }, plain: { type: 'boolean', default: false } },
});
const seconds = Number(values.seconds);
const rounds = Number(values.rounds);
const pings = Number(values.pings);
const [h1, h2] = HOSTS as [BenchHost, BenchHost];
/** `ours-plain` (with --plain): ours without offloads (batched syscalls only), to show what the offloads bring. */
type Kind = 'ours' | 'ours-plain' | 'upstream';
if (process.getuid?.() !== 0) throw new Error('run as root (network namespaces)');
if (!existsSync(UPSTREAM_FLANNELD)) throw new Error(`no upstream flanneld at ${UPSTREAM_FLANNELD}: build it with shared/tools/build-upstream-flanneld.sh`);

interface Sample {
  /** Right after start (our JIT cold), and again after the TCP runs (warm: a daemon that has carried traffic). */
  coldRttP50: number;
  rttP50: number;
  rttP90: number;
  gbps: Record<number, number>;
  coresPerGbps: Record<number, number>;
  /** Ours only, 1 stream: counters of the sending and the receiving forwarder over the run. */
  sender?: CountersSnapshot['counters'];
  receiver?: CountersSnapshot['counters'];
}
const samples: Record<Kind, Sample[]> = { ours: [], 'ours-plain': [], upstream: [] };

/** Asks our forwarder for its counters (SIGUSR2) and waits for the answer. */
async function snapshot(forwarder: Forwarder): Promise<CountersSnapshot['counters']> {
  const seen = forwarder.output().split('"snapshot"').length;
  process.kill(forwarder.pid, 'SIGUSR2');
  for (let attempt = 0; forwarder.output().split('"snapshot"').length === seen; attempt++) {
    if (attempt > 100) throw new Error('no counters from our forwarder');
    await sleep(20);
  }
  const line = forwarder.output().split('\n').filter((text) => text.includes('"snapshot"')).at(-1) as string;
  return (JSON.parse(line) as { snapshot: CountersSnapshot }).snapshot.counters;
}

function difference(after: CountersSnapshot['counters'], before: CountersSnapshot['counters']): CountersSnapshot['counters'] {
  return Object.fromEntries(Object.entries(after).map(([name, value]) => [name, value - before[name as keyof typeof before]])) as CountersSnapshot['counters'];
}

async function measure(kind: Kind): Promise<void> {
  const forwarders: Forwarder[] = [];
  try {
    for (const host of HOSTS) {
      forwarders.push(kind === 'upstream' ? await startUpstream(host) : await startOurs(host, kind === 'ours-plain' ? ['--no-offload'] : []));
    }
    const cold = pingRtt(h1.pod, h2.podIp, pings);
    if (cold.lost === pings) throw new Error(`${kind}: pod ${h1.podIp} cannot reach ${h2.podIp}`);
    const sample: Sample = { coldRttP50: cold.p50, rttP50: 0, rttP90: 0, gbps: {}, coresPerGbps: {} };
    for (const streams of [1, 4]) {
      const before = kind !== 'upstream' && streams === 1 ? await Promise.all(forwarders.map(snapshot)) : undefined;
      const cpuBefore = forwarders.reduce((sum, forwarder) => sum + cpuSeconds(forwarder.pid), 0);
      const started = Date.now();
      const gbps = await iperf(h1, h2, streams, seconds);
      const cores = (forwarders.reduce((sum, forwarder) => sum + cpuSeconds(forwarder.pid), 0) - cpuBefore) / ((Date.now() - started) / 1000);
      sample.gbps[streams] = gbps;
      sample.coresPerGbps[streams] = cores / gbps;
      if (before) {
        const after = await Promise.all(forwarders.map(snapshot));
        sample.sender = difference(after[0] as CountersSnapshot['counters'], before[0] as CountersSnapshot['counters']);
        sample.receiver = difference(after[1] as CountersSnapshot['counters'], before[1] as CountersSnapshot['counters']);
      }
    }
    const warm = pingRtt(h1.pod, h2.podIp, pings);
    sample.rttP50 = warm.p50;
    sample.rttP90 = warm.p90;
    samples[kind].push(sample);
    console.log(`  ${kind.padEnd(10)} ping p50 ${sample.rttP50.toFixed(3)} ms p90 ${sample.rttP90.toFixed(3)} ms (cold p50 ${sample.coldRttP50.toFixed(3)}) · 1 stream ${(sample.gbps[1] ?? 0).toFixed(2)} Gbit/s · 4 streams ${(sample.gbps[4] ?? 0).toFixed(2)} Gbit/s`);
  } finally {
    for (const forwarder of forwarders) await forwarder.stop();
  }
}

const median = (list: number[]) => {
  const sorted = [...list].sort((a, b) => a - b);
  const middle = sorted.length / 2;
  return sorted.length % 2 ? (sorted[Math.floor(middle)] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
};
const fixed = (value: number, digits = 2) => Number(value.toFixed(digits));

/** Where our time went on one stream: syscalls per packet and packets per syscall, per forwarder. */
function timeBudget(counters: CountersSnapshot['counters']) {
  const packets = counters.tunPacketsRead + counters.udpPacketsReceived;
  const syscalls = counters.syscallPoll + counters.syscallTunRead + counters.syscallTunWrite + counters.syscallRecvmmsg + counters.syscallSendmmsg;
  return {
    packets, syscallsPerPacket: fixed(syscalls / packets, 3),
    packetsPerTunRead: fixed(counters.tunPacketsRead / counters.syscallTunRead), packetsPerSendmmsg: fixed(counters.udpPacketsSent / counters.syscallSendmmsg),
    packetsPerRecvmmsg: fixed(counters.udpPacketsReceived / counters.syscallRecvmmsg), packetsPerTunWrite: fixed(counters.tunPacketsWritten / counters.syscallTunWrite),
    tsoSuperpacketsRead: counters.tunSuperpacketsRead, superpacketsWritten: counters.tunSuperpacketsWritten, gsoSends: counters.udpGsoSends, groReceives: counters.udpGroReceives,
    drops: Object.fromEntries(Object.entries(counters).filter(([name, value]) => name.startsWith('drop') && value > 0)),
  };
}

async function mixed(): Promise<Record<string, number | string>> {
  const forwarders = [await startOurs(h1), await startUpstream(h2)];
  try {
    const there = pingRtt(h1.pod, h2.podIp, 20);
    const back = pingRtt(h2.pod, h1.podIp, 20);
    const result = {
      layout: 'h1 ours, h2 upstream v0.20.2', pingOursToUpstreamLost: there.lost, pingUpstreamToOursLost: back.lost,
      pingOursToUpstreamP50Ms: there.p50, pingUpstreamToOursP50Ms: back.p50,
      tcpOursToUpstreamGbps: fixed(await iperf(h1, h2, 1, Math.min(seconds, 5))), tcpUpstreamToOursGbps: fixed(await iperf(h2, h1, 1, Math.min(seconds, 5))),
    };
    console.log(`\nmixed (${result.layout}): ping ours→upstream ${20 - there.lost}/20 (p50 ${there.p50} ms), upstream→ours ${20 - back.lost}/20 (p50 ${back.p50} ms); ` +
      `TCP ours→upstream ${result.tcpOursToUpstreamGbps} Gbit/s, upstream→ours ${result.tcpUpstreamToOursGbps} Gbit/s`);
    return result;
  } finally {
    for (const forwarder of forwarders) await forwarder.stop();
  }
}

let built: Awaited<ReturnType<typeof buildTopology>> | undefined;
try {
  built = await buildTopology();
  console.log(`udp data path, pod → pod over 2 hosts (veth underlay), iperf3 TCP ${seconds} s, ${rounds} rounds alternated`);
  for (let round = 0; round < rounds; round++) {
    console.log(`round ${round + 1}`);
    const kinds: Kind[] = values.plain ? ['ours', 'ours-plain', 'upstream'] : ['ours', 'upstream'];
    for (const kind of round % 2 === 0 ? kinds : [...kinds].reverse()) await measure(kind);
  }
  const summary = (kind: Kind) => {
    const list = samples[kind];
    return {
      gbps1: median(list.map((sample) => sample.gbps[1] ?? 0)), gbps4: median(list.map((sample) => sample.gbps[4] ?? 0)),
      rttP50: median(list.map((sample) => sample.rttP50)), rttP90: median(list.map((sample) => sample.rttP90)),
      coldRttP50: median(list.map((sample) => sample.coldRttP50)),
      coresPerGbps1: median(list.map((sample) => sample.coresPerGbps[1] ?? 0)), coresPerGbps4: median(list.map((sample) => sample.coresPerGbps[4] ?? 0)),
    };
  };
  const [ours, upstream] = [summary('ours'), summary('upstream')];
  const spread = (kind: Kind, pick: (sample: Sample) => number, digits = 2) => `[${samples[kind].map((sample) => pick(sample).toFixed(digits)).join(' ')}]`;
  console.log('\nmedians [samples]                      ours                         upstream udp                 ours/upstream');
  const row = (label: string, a: number, b: number, pick: (sample: Sample) => number, digits = 2) =>
    console.log(`${label.padEnd(38)} ${`${a.toFixed(digits)} ${spread('ours', pick, digits)}`.padEnd(28)} ${`${b.toFixed(digits)} ${spread('upstream', pick, digits)}`.padEnd(28)} ${(a / b).toFixed(2)}×`);
  row('TCP 1 stream, Gbit/s', ours.gbps1, upstream.gbps1, (sample) => sample.gbps[1] ?? 0);
  row('TCP 4 streams, Gbit/s', ours.gbps4, upstream.gbps4, (sample) => sample.gbps[4] ?? 0);
  row('ping RTT p50, ms', ours.rttP50, upstream.rttP50, (sample) => sample.rttP50, 3);
  row('ping RTT p90, ms', ours.rttP90, upstream.rttP90, (sample) => sample.rttP90, 3);
  row('ping RTT p50 right after start, ms', ours.coldRttP50, upstream.coldRttP50, (sample) => sample.coldRttP50, 3);
  row('CPU, both forwarders, cores/Gbit/s, 1', ours.coresPerGbps1, upstream.coresPerGbps1, (sample) => sample.coresPerGbps[1] ?? 0, 3);
  row('CPU, both forwarders, cores/Gbit/s, 4', ours.coresPerGbps4, upstream.coresPerGbps4, (sample) => sample.coresPerGbps[4] ?? 0, 3);
  const plain = values.plain ? summary('ours-plain') : undefined;
  if (plain) {
    console.log(`\nours without offloads (batched syscalls only): 1 stream ${plain.gbps1.toFixed(2)} ${spread('ours-plain', (sample) => sample.gbps[1] ?? 0)} Gbit/s, ` +
      `4 streams ${plain.gbps4.toFixed(2)} ${spread('ours-plain', (sample) => sample.gbps[4] ?? 0)}, ping p50 ${plain.rttP50.toFixed(3)} ms, ` +
      `${plain.coresPerGbps1.toFixed(3)} cores/Gbit/s → offloads bring ${(ours.gbps1 / plain.gbps1).toFixed(2)}× on one stream, ${(ours.gbps4 / plain.gbps4).toFixed(2)}× on four`);
  }
  const budgetOf = (kind: Kind) => {
    const last = samples[kind].at(-1);
    return last?.sender && last.receiver ? { sender: timeBudget(last.sender), receiver: timeBudget(last.receiver) } : undefined;
  };
  const budget = budgetOf('ours');
  const plainBudget = plain ? budgetOf('ours-plain') : undefined;
  for (const [label, value] of [['ours', budget], ['ours without offloads', plainBudget]] as const) {
    if (value) console.log(`\n${label}, 1 stream, last round — sender:   ${JSON.stringify(value.sender)}\n${' '.repeat(label.length + 22)}receiver: ${JSON.stringify(value.receiver)}`);
  }
  const wire = await mixed();
  saveResult('udp-dataplane', { seconds, rounds, pings, ours, upstream, ...(plain ? { oursWithoutOffloads: plain, timeBudgetWithoutOffloads: plainBudget } : {}), samples, timeBudget: budget, mixed: wire });
} finally {
  await tearDown(built);
}
