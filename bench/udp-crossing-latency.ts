/**
 * Benchmark, where a lone packet's time goes in a udp daemon: how long one packet takes to cross the daemon,
 * ours vs upstream flanneld v0.20.2 (udp), measured from the kernel's own timestamps with tcpdump on host h1
 * (`-i any`): TUN → UDP from the echo request leaving through flannel0 to its datagram leaving eth0, and
 * UDP → TUN from the reply's datagram arriving on eth0 to the reply entering through flannel0. Each crossing
 * includes waking the daemon, its system calls and its own code, which is what the ping RTT of
 * bench/udp-dataplane.ts adds up four times. Pings 5 ms apart (each packet alone, the daemon asleep in
 * between), after a warm-up; rounds alternate the order of the kinds; medians and samples, ratio
 * ours/upstream. Writes bench/results/udp-crossing-latency.json.
 *
 * Run as root after `npm run build`:
 *   FLANNEL_TS_LAB_TAG=<tag> node dist/bench/udp-crossing-latency.js [--rounds 4] [--pings 300]
 * Needs etcd and tcpdump (scripts/setup.sh) and upstream's binary (see udp-bench-lab.ts).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { LabHost } from '../src/lab/lab-layout.js';
import { sleep } from '../src/support/timing.js';
import { saveResult } from './bench-namespace.js';
import { type Kind, UPSTREAM_FLANNELD, benchLab, median, pingRtt, startKinds, stopAll } from './udp-bench-lab.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '4' }, pings: { type: 'string', default: '300' } } });
const rounds = Number(values.rounds);
const pings = Number(values.pings);
if (process.getuid?.() !== 0) throw new Error('run as root (network namespaces)');
if (!existsSync(UPSTREAM_FLANNELD)) throw new Error(`no upstream flanneld at ${UPSTREAM_FLANNELD}`);

interface Crossings {
  tunToUdp: number[];
  udpToTun: number[];
}

/** µs between each capture line matching `first` and the next matching `then`, from `tcpdump -tt -i any` output. */
function crossings(capture: string): Crossings {
  const events = [...capture.matchAll(/^(\d+\.\d+) (\S+)\s+(In|Out)\s+IP /gm)].map((match) => ({ at: Number(match[1]), where: `${match[2]} ${match[3]}` }));
  const between = (first: string, then: string) => {
    const result: number[] = [];
    events.forEach((event, index) => {
      if (event.where !== first) return;
      const next = events.slice(index + 1).find((candidate) => candidate.where === then || candidate.where === first);
      if (next?.where === then) result.push((next.at - event.at) * 1e6);
    });
    return result;
  };
  return { tunToUdp: between('flannel0 Out', 'eth0 Out'), udpToTun: between('eth0 In', 'flannel0 In') };
}

const quantile = (list: number[], fraction: number) => {
  const sorted = [...list].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))] ?? Number.NaN;
};

const lab = benchLab(2);
const [h1, h2] = lab.layout.hosts as [LabHost, LabHost];
type Sample = { tunToUdpP50: number; tunToUdpP90: number; udpToTunP50: number; udpToTunP90: number; rttP50: number; pairs: number };
const samples: Record<'ours' | 'upstream', Sample[]> = { ours: [], upstream: [] };

async function measure(kind: 'ours' | 'upstream'): Promise<void> {
  await startKinds(lab, [[h1, kind as Kind], [h2, kind as Kind]]);
  pingRtt(h1.podNetns, lab.podIp(h2) as string, 50, 50);
  const dump = spawn('ip', ['netns', 'exec', h1.netns, 'tcpdump', '-i', 'any', '-nn', '-tt', '-l', 'icmp or udp port 8285'], { stdio: ['ignore', 'pipe', 'ignore'] });
  let capture = '';
  dump.stdout.on('data', (chunk: Buffer) => (capture += chunk.toString()));
  try {
    await sleep(1000); // tcpdump attaches
    const rtt = pingRtt(h1.podNetns, lab.podIp(h2) as string, pings, 0).p50;
    await sleep(300);
    const found = crossings(capture);
    if (found.tunToUdp.length < pings / 2) throw new Error(`${kind}: only ${found.tunToUdp.length} crossings captured`);
    const sample = {
      tunToUdpP50: quantile(found.tunToUdp, 0.5), tunToUdpP90: quantile(found.tunToUdp, 0.9),
      udpToTunP50: quantile(found.udpToTun, 0.5), udpToTunP90: quantile(found.udpToTun, 0.9), rttP50: rtt, pairs: found.tunToUdp.length,
    };
    samples[kind].push(sample);
    console.log(`  ${kind.padEnd(9)} TUN→UDP p50 ${sample.tunToUdpP50.toFixed(1)} µs p90 ${sample.tunToUdpP90.toFixed(1)} · UDP→TUN p50 ${sample.udpToTunP50.toFixed(1)} µs p90 ${sample.udpToTunP90.toFixed(1)} · ping p50 ${rtt.toFixed(3)} ms (${sample.pairs} packets)`);
  } finally {
    dump.kill('SIGTERM');
  }
}

try {
  await lab.down();
  await lab.up();
  console.log(`udp daemon crossing latency on h1 (tcpdump timestamps), ${pings} lone pings per sample, ${rounds} rounds alternated`);
  for (let round = 0; round < rounds; round++) {
    console.log(`round ${round + 1}`);
    for (const kind of round % 2 === 0 ? (['ours', 'upstream'] as const) : (['upstream', 'ours'] as const)) await measure(kind);
  }
  const middle = (kind: 'ours' | 'upstream', pick: (sample: Sample) => number) => median(samples[kind].map(pick));
  console.log(`\nmedians [samples]${'ours'.padStart(40)}${'upstream'.padStart(40)}   ours/upstream`);
  const medians: Record<string, Record<string, number>> = {};
  for (const [label, pick, digits] of [
    ['TUN → UDP p50, µs', (s: Sample) => s.tunToUdpP50, 1], ['TUN → UDP p90, µs', (s: Sample) => s.tunToUdpP90, 1],
    ['UDP → TUN p50, µs', (s: Sample) => s.udpToTunP50, 1], ['UDP → TUN p90, µs', (s: Sample) => s.udpToTunP90, 1],
    ['ping RTT p50, ms', (s: Sample) => s.rttP50, 3],
  ] as const) {
    const cell = (kind: 'ours' | 'upstream') => ` ${middle(kind, pick).toFixed(digits)} [${samples[kind].map((s) => pick(s).toFixed(digits)).join(' ')}]`.padStart(40);
    medians[label] = { ours: middle('ours', pick), upstream: middle('upstream', pick) };
    console.log(`${label.padEnd(20)}${cell('ours')}${cell('upstream')}   ${(middle('ours', pick) / middle('upstream', pick)).toFixed(2)}×`);
  }
  saveResult('udp-crossing-latency', { rounds, pings, medians, samples });
} finally {
  await stopAll(lab);
  await lab.down();
}
