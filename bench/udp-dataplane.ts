/**
 * Benchmark, udp data path with full flanneld processes in a lab, side by side in one run: our flanneld (udp
 * backend: worker thread, batched syscalls, TSO/GSO/GRO offloads) vs upstream flanneld v0.20.2's udp backend
 * (its C proxy, one packet per syscall) vs our flanneld on vxlan (the kernel's data path, for scale). Pod →
 * pod across two hosts, same pods and subnets for every kind (udp-bench-lab.ts). Per round and kind: ping RTT
 * right after the daemons start (cold) and after the TCP runs (warm), iperf3 TCP with 1 and 4 streams, the
 * CPU time of both daemons per Gbit/s and per packet, and for ours where the time goes (syscalls per packet, packets per
 * call, offload use, from the counters the data path logs). Rounds alternate the order of the kinds; medians
 * and every sample are printed, with the ratio ours/upstream. Writes bench/results/udp-dataplane.json. The
 * mixed cluster (ours and upstream in one lab) is bench/udp-mixed-cluster.ts.
 *
 * Run as root after `npm run build`:
 *   FLANNEL_TS_LAB_TAG=<tag> node dist/bench/udp-dataplane.js [--seconds 8] [--rounds 4] [--pings 300] [--kinds ours,upstream,vxlan]
 * Needs etcd and iperf3 (scripts/setup.sh) and upstream's binary (FLANNEL_TS_UPSTREAM_FLANNELD, default
 * /work/upstream/flanneld-v0.20.2, built by shared/tools/build-upstream-flanneld.sh). Everything stays in the
 * lab's namespaces, removed at the end; processes are stopped by pid.
 */
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { LabHost } from '../src/lab/lab-layout.js';
import { sleep } from '../src/support/timing.js';
import { saveResult } from './bench-namespace.js';
import {
  type Counters, type Kind, UPSTREAM_FLANNELD, benchLab, cpuSeconds, daemonPid, difference, iperf, loggedCounters, median, pingRtt, startKinds, stopAll,
} from './udp-bench-lab.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '8' }, rounds: { type: 'string', default: '4' }, pings: { type: 'string', default: '300' },
    kinds: { type: 'string', default: 'ours,upstream,vxlan' },
  },
});
const seconds = Number(values.seconds);
const rounds = Number(values.rounds);
const pings = Number(values.pings);
const kinds = values.kinds.split(',') as Kind[];
if (process.getuid?.() !== 0) throw new Error('run as root (network namespaces)');
if (kinds.includes('upstream') && !existsSync(UPSTREAM_FLANNELD)) throw new Error(`no upstream flanneld at ${UPSTREAM_FLANNELD}: build it with shared/tools/build-upstream-flanneld.sh`);

interface Sample {
  /** Right after the daemons start (ours: JIT cold), and after the TCP runs (warm). */
  coldRttP50: number;
  coldRttP90: number;
  rttP50: number;
  rttP90: number;
  gbps: Record<number, number>;
  /** CPU of both daemons (all threads) over the iperf run, in cores per Gbit/s carried. */
  coresPerGbps: Record<number, number>;
  /**
   * The same CPU per inner packet, in µs (both daemons): full-sized TCP segments carry MTU − 52 bytes of payload
   * (IP, TCP with timestamps), and each of them is one datagram on the wire for both udp kinds.
   */
  cpuMicrosPerPacket: Record<number, number>;
  /** Ours only, 1 stream: the sending and the receiving data path's counters over the run. */
  sender?: Counters;
  receiver?: Counters;
}
const samples: Record<Kind, Sample[]> = { ours: [], upstream: [], vxlan: [] };
const lab = benchLab(2);
const [h1, h2] = lab.layout.hosts as [LabHost, LabHost];

/** Our counters after the data path's next once-a-second log line. */
async function countersNow(host: LabHost): Promise<Counters> {
  const before = JSON.stringify(loggedCounters(lab, host));
  for (let attempt = 0; attempt < 30 && JSON.stringify(loggedCounters(lab, host)) === before; attempt++) await sleep(100);
  return loggedCounters(lab, host) ?? {};
}

async function measure(kind: Kind): Promise<void> {
  const mtu = await startKinds(lab, [[h1, kind], [h2, kind]]);
  const podIp = lab.podIp(h2) as string;
  const cold = pingRtt(h1.podNetns, podIp, pings, 0);
  if (cold.lost === pings) throw new Error(`${kind}: pod ${lab.podIp(h1)} cannot reach ${podIp}`);
  const sample: Sample = { coldRttP50: cold.p50, coldRttP90: cold.p90, rttP50: 0, rttP90: 0, gbps: {}, coresPerGbps: {}, cpuMicrosPerPacket: {} };
  const pids = [daemonPid(lab, h1), daemonPid(lab, h2)];
  for (const streams of [1, 4]) {
    const before = kind === 'ours' && streams === 1 ? [await countersNow(h1), await countersNow(h2)] : undefined;
    const cpuBefore = pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
    const started = Date.now();
    const gbps = await iperf(lab, h1, h2, streams, seconds);
    const cores = (pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0) - cpuBefore) / ((Date.now() - started) / 1000);
    sample.gbps[streams] = gbps;
    sample.coresPerGbps[streams] = cores / gbps;
    sample.cpuMicrosPerPacket[streams] = (cores * 1e6) / ((gbps * 1e9) / 8 / (mtu - 52));
    if (before) {
      await sleep(1100);
      sample.sender = difference(await countersNow(h1), before[0] as Counters);
      sample.receiver = difference(await countersNow(h2), before[1] as Counters);
    }
  }
  const warm = pingRtt(h1.podNetns, podIp, pings, 20);
  sample.rttP50 = warm.p50;
  sample.rttP90 = warm.p90;
  samples[kind].push(sample);
  console.log(`  ${kind.padEnd(9)} ping p50 ${sample.rttP50.toFixed(3)} ms p90 ${sample.rttP90.toFixed(3)} (cold p50 ${sample.coldRttP50.toFixed(3)} p90 ${sample.coldRttP90.toFixed(3)}) · ` +
    `1 stream ${(sample.gbps[1] ?? 0).toFixed(2)} Gbit/s · 4 streams ${(sample.gbps[4] ?? 0).toFixed(2)} Gbit/s · daemons ${(sample.coresPerGbps[1] ?? 0).toFixed(3)} cores/Gbit/s`);
}

const fixed = (value: number, digits = 2) => Number(value.toFixed(digits));

/** Where our time went on one stream: syscalls per packet and packets per syscall, per data path. */
function timeBudget(counters: Counters) {
  const c = (name: string) => counters[name] ?? 0;
  const packets = c('tunPacketsRead') + c('udpPacketsReceived');
  const syscalls = c('syscallPoll') + c('syscallTunRead') + c('syscallTunWrite') + c('syscallRecvmmsg') + c('syscallSendmmsg');
  const batches = (kind: string) => Object.fromEntries(Object.entries(counters).filter(([name, value]) => name.startsWith(`${kind}BatchesOf`) && value > 0).map(([name, value]) => [name.slice(kind.length + 9), value]));
  return {
    packets, syscallsPerPacket: fixed(syscalls / packets, 3), polls: c('syscallPoll'),
    packetsPerTunRead: fixed(c('tunPacketsRead') / c('syscallTunRead')), packetsPerSendmmsg: fixed(c('udpPacketsSent') / c('syscallSendmmsg')),
    packetsPerRecvmmsg: fixed(c('udpPacketsReceived') / c('syscallRecvmmsg')), packetsPerTunWrite: fixed(c('tunPacketsWritten') / c('syscallTunWrite')),
    tsoSuperpacketsRead: c('tunSuperpacketsRead'), superpacketsWritten: c('tunSuperpacketsWritten'), gsoSends: c('udpGsoSends'), groReceives: c('udpGroReceives'),
    batchSizes: { tunRead: batches('tunRead'), udpSend: batches('udpSend'), udpReceive: batches('udpReceive'), tunWrite: batches('tunWrite') },
    drops: Object.fromEntries(Object.entries(counters).filter(([name, value]) => name.startsWith('drop') && value > 0)),
  };
}

try {
  await lab.down();
  await lab.up();
  console.log(`udp data path, pod → pod over 2 lab hosts (veth underlay, full flanneld processes), iperf3 TCP ${seconds} s, ${rounds} rounds alternated`);
  for (let round = 0; round < rounds; round++) {
    console.log(`round ${round + 1}`);
    for (const kind of round % 2 === 0 ? kinds : [...kinds].reverse()) await measure(kind);
  }
  const summary = (kind: Kind) => {
    const list = samples[kind];
    const pick = (value: (sample: Sample) => number) => median(list.map(value));
    return {
      gbps1: pick((s) => s.gbps[1] ?? 0), gbps4: pick((s) => s.gbps[4] ?? 0), rttP50: pick((s) => s.rttP50), rttP90: pick((s) => s.rttP90),
      coldRttP50: pick((s) => s.coldRttP50), coldRttP90: pick((s) => s.coldRttP90),
      coresPerGbps1: pick((s) => s.coresPerGbps[1] ?? 0), coresPerGbps4: pick((s) => s.coresPerGbps[4] ?? 0),
      cpuMicrosPerPacket1: pick((s) => s.cpuMicrosPerPacket[1] ?? 0), cpuMicrosPerPacket4: pick((s) => s.cpuMicrosPerPacket[4] ?? 0),
    };
  };
  const summaries = Object.fromEntries(kinds.map((kind) => [kind, summary(kind)])) as Record<Kind, ReturnType<typeof summary>>;
  const spread = (kind: Kind, pick: (sample: Sample) => number, digits: number) => `[${samples[kind].map((sample) => pick(sample).toFixed(digits)).join(' ')}]`;
  console.log(`\nmedians [samples]${kinds.map((kind) => kind.padStart(34)).join('')}${kinds.includes('ours') && kinds.includes('upstream') ? '   ours/upstream' : ''}`);
  const row = (label: string, value: (s: ReturnType<typeof summary>) => number, pick: (sample: Sample) => number, digits = 2) => {
    const cells = kinds.map((kind) => ` ${value(summaries[kind]).toFixed(digits)} ${spread(kind, pick, digits)}`.padStart(34)).join('');
    const ratio = summaries.ours && summaries.upstream ? `   ${(value(summaries.ours) / value(summaries.upstream)).toFixed(2)}×` : '';
    console.log(`${label.padEnd(34)}${cells}${ratio}`);
  };
  row('TCP 1 stream, Gbit/s', (s) => s.gbps1, (s) => s.gbps[1] ?? 0);
  row('TCP 4 streams, Gbit/s', (s) => s.gbps4, (s) => s.gbps[4] ?? 0);
  row('ping RTT p50 warm, ms', (s) => s.rttP50, (s) => s.rttP50, 3);
  row('ping RTT p90 warm, ms', (s) => s.rttP90, (s) => s.rttP90, 3);
  row('ping RTT p50 after start, ms', (s) => s.coldRttP50, (s) => s.coldRttP50, 3);
  row('ping RTT p90 after start, ms', (s) => s.coldRttP90, (s) => s.coldRttP90, 3);
  row('daemons CPU, cores/Gbit/s, 1 str.', (s) => s.coresPerGbps1, (s) => s.coresPerGbps[1] ?? 0, 3);
  row('daemons CPU, cores/Gbit/s, 4 str.', (s) => s.coresPerGbps4, (s) => s.coresPerGbps[4] ?? 0, 3);
  row('daemons CPU, µs/packet, 1 str.', (s) => s.cpuMicrosPerPacket1, (s) => s.cpuMicrosPerPacket[1] ?? 0, 2);
  row('daemons CPU, µs/packet, 4 str.', (s) => s.cpuMicrosPerPacket4, (s) => s.cpuMicrosPerPacket[4] ?? 0, 2);
  const last = samples.ours.at(-1);
  const budget = last?.sender && last.receiver ? { sender: timeBudget(last.sender), receiver: timeBudget(last.receiver) } : undefined;
  if (budget) console.log(`\nours, 1 stream, last round — sender:   ${JSON.stringify(budget.sender)}\n                             receiver: ${JSON.stringify(budget.receiver)}`);
  saveResult('udp-dataplane', { seconds, rounds, pings, medians: summaries, samples, timeBudget: budget });
} finally {
  await stopAll(lab);
  await lab.down();
}
