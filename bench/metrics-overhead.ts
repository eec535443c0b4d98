/**
 * Benchmark, what the metrics threaded through the reconciler cost its hot path (no root, no I/O): a vxlan host
 * with 5,000 peers on a MemoryKernel, reconciled by two reconcilers that differ only in the `metrics` option —
 * absent (metrics off) or a live metrics service (metrics on). Both hosts live side by side in one process and
 * every step runs on both back to back, the variant that goes first alternating step by step (separate rounds
 * per variant made the second one measured pay the first one's garbage: ratios swung from 0.5 to 3):
 *
 * - first pass: full read, plan and 15,000 writes (route, neighbour, FDB entry per peer) from an empty device;
 * - one lease event: one peer's VTEP MAC changes, one incremental pass (median over 200 events);
 * - drift: 500 routes deleted by hand, their notifications observed, one repairing pass.
 *
 * Each round prints both; the summary gives medians, spreads and the on/off ratio of each round (and of each
 * back-to-back pair of event passes); 1.0 means metrics cost nothing measurable. Drift detection runs in both
 * (status reports it even without metrics); what differs is the one report per pass and the sources that are
 * read at scrape time. The scrape itself (with 5,000 peers' objects counted) is timed for "on" alone.
 * Run after `npm run build`: node dist/bench/metrics-overhead.js [--rounds 9]. Writes
 * bench/results/metrics-overhead.json.
 */
import { parseArgs } from 'node:util';
import type { ExternalInterface } from '../src/backend/backend.js';
import { createVxlanBackend } from '../src/backend/vxlan/vxlan-backend.js';
import { parseNetworkConfig } from '../src/config/network-config.js';
import { MEMORY_KERNEL_PORT, MemoryKernel } from '../src/dataplane/memory-kernel.js';
import { ownershipOf } from '../src/dataplane/ownership.js';
import { Reconciler } from '../src/dataplane/reconciler.js';
import type { Lease } from '../src/lease/lease.js';
import { type MetricsService, createMetricsService } from '../src/metrics/metrics-service.js';
import { Cidr, IpAddress } from '../src/net/ip.js';
import { silentLogger } from '../src/support/logger.js';
import { saveResult } from './bench-namespace.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '9' }, peers: { type: 'string', default: '5000' } } });
const rounds = Number(values.rounds);
const peerCount = Number(values.peers);
const EVENTS = 200;
const DRIFTED = 500;

const config = parseNetworkConfig('{"Network":"10.0.0.0/8","SubnetLen":24,"Backend":{"Type":"vxlan"}}');
const uplink = Cidr.parse('198.18.0.11/16');
const ext: ExternalInterface = {
  linkIndex: 2, name: 'eth0', mtu: 1500, ifaceAddr: uplink, extAddr: IpAddress.parse('198.18.0.11'), prefixes: [Cidr.parse('198.18.0.0/16')],
};
const backend = createVxlanBackend({ config, externalInterface: ext });
const own: Lease = { subnet: Cidr.parse('10.0.1.0/24'), attrs: { publicIP: IpAddress.parse('198.18.0.11'), backendType: 'vxlan' } };
const hex = (value: number) => value.toString(16).padStart(2, '0');

/** Peer `index` (0-based) with a VTEP MAC that depends on `variant`: a different variant is a lease change. */
function peer(index: number, variant = 0): Lease {
  const third = index + 2;
  return {
    subnet: Cidr.parse(`10.${third >> 8}.${third & 255}.0/24`),
    // Off the uplink's /16, so every peer is a vxlan peer (route, neighbour, FDB entry).
    attrs: { publicIP: IpAddress.fromBigInt(4, 0xc6130000n + BigInt(index + 10)), backendType: 'vxlan', backendData: { VNI: 1, VtepMAC: `02:${hex(variant)}:00:${hex(index >> 16)}:${hex((index >> 8) & 255)}:${hex(index & 255)}` } },
  };
}

type Variant = 'off' | 'on';
interface Rig {
  readonly kernel: MemoryKernel;
  readonly reconciler: Reconciler;
  readonly peers: Lease[];
  readonly service: MetricsService | undefined;
}

/** A fresh host: kernel with eth0, the reconciler (with or without metrics), our notifications filtered out. */
function rig(variant: Variant): Rig {
  const kernel = new MemoryKernel().addLink({ index: 2, name: 'eth0', mtu: 1500, up: true }, [{ address: uplink, scope: 0, flags: 0x80 }]);
  const peers = Array.from({ length: peerCount }, (_, index) => peer(index));
  const service = variant === 'on' ? createMetricsService({ version: 'bench' }) : undefined;
  const reconciler = new Reconciler({
    kernel, plan: () => backend.plan(own, peers), logger: silentLogger(), ownership: ownershipOf([Cidr.parse('10.0.0.0/8')]), ...(service ? { metrics: service.metrics.reconcile } : {}),
  });
  kernel.subscribe(({ origin, event }) => {
    if (origin !== MEMORY_KERNEL_PORT) reconciler.observe([event]);
  });
  return { kernel, reconciler, peers, service };
}

interface Sample {
  readonly firstPassMs: number;
  readonly eventUs: number;
  readonly driftMs: number;
  readonly scrapeMs?: number;
  readonly pageBytes?: number;
  /** on/off of each event step, the two passes run back to back. */
  readonly eventPairRatios?: readonly number[];
}

/** First pass of a fresh host: full read, plan, every write. */
async function firstPass(host: Rig): Promise<number> {
  const started = performance.now();
  const first = await host.reconciler.reconcileOnce();
  const elapsed = performance.now() - started;
  if (first.failed > 0 || first.changed < peerCount * 3) throw new Error(`first pass: ${first.changed} changes, ${first.failed} failed`);
  return elapsed;
}

/** One peer's VTEP MAC changes and one incremental pass programs it; microseconds. */
async function leaseEvent(host: Rig, step: number): Promise<number> {
  const index = (step * 7919) % peerCount;
  host.peers[index] = peer(index, 1 + (step % 2));
  const started = performance.now();
  host.reconciler.markDirty();
  const result = await host.reconciler.reconcileOnce();
  const elapsed = (performance.now() - started) * 1000;
  if (result.changed === 0 || result.failed > 0) throw new Error(`event ${step}: ${result.changed} changes, ${result.failed} failed`);
  return elapsed;
}

/** DRIFTED routes deleted by hand (notifications observed as they happen) and the pass that puts them back. */
async function drift(host: Rig): Promise<number> {
  const victims = [...host.kernel.routes.values()].filter((route) => route.linkIndex !== 2).slice(0, DRIFTED);
  const started = performance.now();
  for (const route of victims) host.kernel.deleteRouteByHand(route);
  const repair = await host.reconciler.reconcileOnce();
  const elapsed = performance.now() - started;
  if (repair.routes < DRIFTED || repair.failed > 0) throw new Error(`drift pass repaired ${repair.routes} routes`);
  if (host.service && host.service.registry.value('flannel_drift_repairs_total', { kind: 'route' }) !== DRIFTED) throw new Error('drift not counted');
  return elapsed;
}

/** Twenty scrapes of the whole page (objects counted by kind at each); median milliseconds and the page. */
function scrape(service: MetricsService): { ms: number; bytes: number } {
  const times: number[] = [];
  let page = '';
  for (let count = 0; count < 20; count++) {
    const started = performance.now();
    page = service.render();
    times.push(performance.now() - started);
  }
  if (!page.includes(`flannel_kernel_objects{kind="fdb"} ${peerCount}`)) throw new Error('scrape does not count the FDB entries');
  return { ms: median(times), bytes: page.length };
}

/**
 * One round: both hosts alive side by side, each step run on both back to back, the variant that goes first
 * alternating step by step (garbage and JIT state hit both alike).
 */
async function measureRound(round: number): Promise<Record<Variant, Sample>> {
  globalThis.gc?.();
  const hosts: Record<Variant, Rig> = { off: rig('off'), on: rig('on') };
  const orderAt = (step: number): Variant[] => ((round + step) % 2 === 0 ? ['off', 'on'] : ['on', 'off']);
  const first: Partial<Record<Variant, number>> = {};
  for (const variant of orderAt(0)) first[variant] = await firstPass(hosts[variant]);
  const events: Record<Variant, number[]> = { off: [], on: [] };
  for (let step = 0; step < EVENTS; step++) for (const variant of orderAt(step)) events[variant].push(await leaseEvent(hosts[variant], step));
  const drifts: Partial<Record<Variant, number>> = {};
  for (const variant of orderAt(1)) drifts[variant] = await drift(hosts[variant]);
  const page = scrape(hosts.on.service as MetricsService);
  const sample = (variant: Variant): Sample => ({ firstPassMs: first[variant] as number, eventUs: median(events[variant]), driftMs: drifts[variant] as number });
  const eventPairRatios = events.on.map((on, step) => on / (events.off[step] as number));
  return { off: sample('off'), on: { ...sample('on'), scrapeMs: page.ms, pageBytes: page.bytes, eventPairRatios } };
}

const median = (list: readonly number[]) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)] as number;
const spread = (list: readonly number[], digits = 2) => `${Math.min(...list).toFixed(digits)}–${Math.max(...list).toFixed(digits)}`;
const stat = (list: readonly number[], digits = 2) => ({ median: Number(median(list).toFixed(digits)), spread: spread(list, digits) });

const samples: Record<Variant, Sample[]> = { off: [], on: [] };
const ratios: Record<'firstPass' | 'event' | 'drift', number[]> = { firstPass: [], event: [], drift: [] };
await measureRound(1); // warm-up: JIT and caches, thrown away
for (let round = 0; round < rounds; round++) {
  const { off, on } = await measureRound(round);
  samples.off.push(off);
  samples.on.push(on);
  ratios.firstPass.push(on.firstPassMs / off.firstPassMs);
  ratios.event.push(on.eventUs / off.eventUs);
  ratios.drift.push(on.driftMs / off.driftMs);
  console.log(`round ${round + 1}: first pass ${off.firstPassMs.toFixed(0)} / ${on.firstPassMs.toFixed(0)} ms, event ${off.eventUs.toFixed(0)} / ${on.eventUs.toFixed(0)} µs, drift ${off.driftMs.toFixed(1)} / ${on.driftMs.toFixed(1)} ms (off / on)`);
}

const pick = (variant: Variant, field: 'firstPassMs' | 'eventUs' | 'driftMs') => samples[variant].map((sample) => sample[field]);
const result = {
  peers: peerCount, rounds, events: EVENTS, drifted: DRIFTED,
  firstPassMs: { off: stat(pick('off', 'firstPassMs'), 1), on: stat(pick('on', 'firstPassMs'), 1), ratio: stat(ratios.firstPass) },
  eventUs: { off: stat(pick('off', 'eventUs'), 0), on: stat(pick('on', 'eventUs'), 0), ratio: stat(ratios.event) },
  driftMs: { off: stat(pick('off', 'driftMs'), 1), on: stat(pick('on', 'driftMs'), 1), ratio: stat(ratios.drift) },
  eventPairRatio: stat(samples.on.flatMap((sample) => [...(sample.eventPairRatios ?? [])])),
  scrapeMs: stat(samples.on.map((sample) => sample.scrapeMs as number)),
  pageBytes: samples.on[0]?.pageBytes,
};
const line = (label: string, entry: { off: { median: number; spread: string }; on: { median: number; spread: string }; ratio: { median: number; spread: string } }, unit: string) =>
  console.log(`${label}: off ${entry.off.median} ${unit} (${entry.off.spread}), on ${entry.on.median} ${unit} (${entry.on.spread}); on/off median ${entry.ratio.median} (spread ${entry.ratio.spread})`);
console.log(`\n${peerCount} vxlan peers, ${rounds} alternated rounds (medians, spreads min–max):`);
line(`first pass (${peerCount * 3} writes)`, result.firstPassMs, 'ms');
line(`one lease event (median of ${EVENTS})`, result.eventUs, 'µs');
line(`${DRIFTED} routes drifted and repaired`, result.driftMs, 'ms');
console.log(`one lease event, on/off of each pair of back-to-back passes: median ${result.eventPairRatio.median} (spread ${result.eventPairRatio.spread}, ${rounds * EVENTS} pairs)`);
console.log(`one scrape of /metrics (metrics on, objects counted at scrape): median ${result.scrapeMs.median} ms (spread ${result.scrapeMs.spread}), ${result.pageBytes} bytes`);
saveResult('metrics-overhead', result);
