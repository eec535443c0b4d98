/**
 * Benchmark, the control plane at scale, side by side with upstream flanneld v0.20.2 (issue 13): one host
 * namespace, a real etcd, N peer leases of the backend (`--backend vxlan`, the default, or `host-gw`; what
 * differs is in scale-backends.ts); our flanneld and upstream's alternate in rounds (the order flips every
 * round), each round from scratch (no flannel.1 or peer routes, leases written again, no subnet.env),
 * everything timed by the same kernel-notification poller. Per round and implementation:
 *  - start → all N peer routes seen (vxlan: flanneld writes a peer's neighbour and FDB entry before its route;
 *    both do), next to `ip -batch` (+ `bridge -batch`) installing the same entries in the same round;
 *  - RSS 2 s after sync (and its anonymous and file-backed parts); CPU seconds over two windows of `--idle`
 *    seconds of idling each: the first after sync (settling: for ours it holds V8's memory reducer, one-off
 *    mark-compacts that give back the sync's garbage, ~15–25 s after sync at 5,000 peers, later with a larger
 *    heap: at 20,000 they fall in the second window), then the second; RSS after both (settled);
 *  - new lease in etcd → its route (p50/p99 over `--latency` leases, one at a time);
 *  - a route / neighbour / FDB entry (host-gw: route) deleted by someone else → back (p50/p99 over `--drift`
 *    each; a kind that is not back within 1 s twice is reported as not repaired, not waited for);
 *  - peak RSS during a burst of `--burst` lease changes (vxlan: new VtepMACs; host-gw: new PublicIPs, so new
 *    gateways; one put each, 50 in flight), until every change is in the kernel or none came for 3 s; how many
 *    were applied (upstream v0.20.2 reads one event per etcd watch response and loses the rest).
 * Prints per-round lines, then medians [min–max] ours | upstream | ratio per peer count.
 * Run as root after `npm run build`, by hand (not in CI):
 *   node dist/bench/scale-vs-upstream.js [--backend vxlan|host-gw] [--peers 1000,5000] [--rounds 3] [--latency 100] [--drift 20]
 *     [--burst 500] [--idle 30] [--upstream /work/upstream/flanneld-v0.20.2]
 * FLANNEL_TS_NODE_ARGS overrides our Node flags; `--ours-variant label='node flags'[@/path/to/flanneld.js]` (repeatable)
 * adds another of ours to the rotation, e.g. other V8 flags or another build, measured before/after in one run. Writes bench/results/scale-vs-upstream.json
 * (host-gw: scale-vs-upstream-host-gw.json). Everything stays in
 * a namespace it makes (ftbenchsu<FLANNEL_TS_LAB_TAG>), deleted by name at the end.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { EtcdClient } from '../src/adapters/etcd/etcd-client.js';
import * as C from '../src/adapters/netlink/constants.js';
import { decodeNeighbour, decodeRoute } from '../src/adapters/netlink/messages.js';
import { NetlinkKernel } from '../src/adapters/netlink/netlink-kernel.js';
import type { NetlinkMessage } from '../src/adapters/netlink/codec.js';
import { NetlinkSocket } from '../src/adapters/netlink/netlink-socket.js';
import { NUD_PERMANENT, type Route, neighbourKey } from '../src/dataplane/kernel-objects.js';
import { FLANNELD_JS, FLANNELD_NODE_FLAGS } from '../src/lab/lab.js';
import { sleep } from '../src/support/timing.js';
import { benchPeer, prepareNamespace, reExecInNamespace, rssMb, saveResult, stopProcess, summary, writeLeases } from './bench-namespace.js';
import { type Spread, cpuSeconds, peakRssMbOf, resetPeakRss, round2, spreadOf, startProcess } from './bench-process.js';
import { type RepairKind, SCALE_BACKENDS } from './scale-backends.js';

const { values } = parseArgs({
  options: {
    peers: { type: 'string', default: '1000,5000' }, rounds: { type: 'string', default: '3' }, latency: { type: 'string', default: '100' },
    drift: { type: 'string', default: '20' }, burst: { type: 'string', default: '500' }, idle: { type: 'string', default: '30' },
    upstream: { type: 'string', default: '/work/upstream/flanneld-v0.20.2' }, inside: { type: 'boolean', default: false },
    'ours-variant': { type: 'string', multiple: true, default: [] }, backend: { type: 'string', default: 'vxlan' },
  },
});
if (!Object.hasOwn(SCALE_BACKENDS, values.backend)) {
  console.error(`scale-vs-upstream: --backend wants ${Object.keys(SCALE_BACKENDS).join(' or ')}, not ${JSON.stringify(values.backend)}`);
  process.exit(2);
}
const backend = SCALE_BACKENDS[values.backend as keyof typeof SCALE_BACKENDS];
const peerCounts = values.peers.split(',').map(Number);
const rounds = Number(values.rounds);
const latencySamples = Number(values.latency);
const driftSamples = Number(values.drift);
const burstSize = Number(values.burst);
const idleSeconds = Number(values.idle);

if (!existsSync(values.upstream)) {
  console.error(`scale-vs-upstream: no upstream flanneld at ${values.upstream}; build it with /work/shared/tools/build-upstream-flanneld.sh or pass --upstream PATH`);
  process.exit(2);
}
if (peerCounts.some((count) => !Number.isInteger(count) || count < 1 || count > 60_000)) {
  console.error(`scale-vs-upstream: --peers wants counts between 1 and 60000 separated by commas, not ${JSON.stringify(values.peers)}`);
  process.exit(2);
}
/** 'ours', 'upstream', or the label of an --ours-variant. */
type Implementation = string;
const DEFAULT_NODE_ARGS = process.env.FLANNEL_TS_NODE_ARGS !== undefined ? process.env.FLANNEL_TS_NODE_ARGS.split(' ').filter(Boolean) : FLANNELD_NODE_FLAGS;
/** Our flanneld's variants by label: Node flags and the flanneld script (`label=flags[@path/to/flanneld.js]`). */
const variants = new Map<string, { nodeArgs: string[]; script: string }>([['ours', { nodeArgs: DEFAULT_NODE_ARGS, script: FLANNELD_JS }]]);
for (const text of values['ours-variant']) {
  const match = /^([\w.-]+)=([^@]*)(?:@(.+))?$/.exec(text);
  if (!match || match[1] === 'upstream' || match[1] === 'ours') {
    console.error(`scale-vs-upstream: --ours-variant wants label=node flags[@flanneld.js] (label not ours/upstream), not ${JSON.stringify(text)}`);
    process.exit(2);
  }
  variants.set(match[1] as string, { nodeArgs: (match[2] ?? '').split(' ').filter(Boolean), script: match[3] ?? FLANNELD_JS });
}
const implementations: Implementation[] = [...variants.keys(), 'upstream'];
const REPAIR_WAIT_MS = 1000;

// FLANNEL_TS_LAB_TAG keeps this bench's namespace apart from other checkouts' labs and benches.
if (!reExecInNamespace(`ftbenchsu${process.env.FLANNEL_TS_LAB_TAG ?? ''}`)) await inside();


interface RoundResult {
  readonly startToAllMs: number;
  readonly batchBaselineMs: number;
  readonly rssAfterSyncMb: number;
  /** Of it, anonymous memory (heap, stacks) and file-backed pages (the executable and its libraries). */
  readonly rssAnonAfterSyncMb: number;
  readonly rssFileAfterSyncMb: number;
  readonly burstPeakRssMb: number;
  /** Burst changes seen in the kernel (a new neighbour or gateway; all of them unless the implementation lost some). */
  readonly burstApplied: number;
  /** CPU seconds over the first idle window after sync, and over the second (steady idle). */
  readonly settleCpuSeconds: number;
  readonly idleCpuSeconds: number;
  /** RSS after both idle windows, once anything one-off after sync is over. */
  readonly rssSettledMb: number;
  readonly newLease: { readonly p50: number; readonly p99: number };
  /** p50/p99 of the repairs seen; `missed` counts deletions not back within REPAIR_WAIT_MS. */
  readonly repair: Partial<Record<RepairKind, { readonly p50: number; readonly p99: number; readonly missed: number }>>;
}

async function inside(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'flannel-ts-scale-bench-'));
  const etcd = await prepareNamespace();
  const kernel = NetlinkKernel.open();
  const client = new EtcdClient({ endpoints: [etcd.url] });
  const results: Record<number, Record<Implementation, RoundResult[]>> = {};
  if (variants.size > 1) console.log(`ours: ${[...variants].map(([label, variant]) => `${label} = node ${variant.nodeArgs.join(' ')} ${variant.script}`).join('; ')}`);
  try {
    for (const peers of peerCounts) {
      results[peers] = Object.fromEntries(implementations.map((implementation) => [implementation, []]));
      console.log(`${backend.type}, ${peers} peers: ${rounds} rounds, ours and upstream v0.20.2 alternating`);
      for (let round = 0; round < rounds; round++) {
        // The order turns every round, so each implementation runs in each position in turn.
        for (const implementation of implementations.map((_, index) => implementations[(index + round) % implementations.length] as Implementation)) {
          const result = await oneRound({ work, etcdUrl: etcd.url, kernel, client }, implementation, peers, round);
          results[peers]?.[implementation]?.push(result);
          console.log(`  round ${round + 1} ${implementation.padEnd(8)} start→all ${result.startToAllMs} ms (batch ${result.batchBaselineMs} ms), RSS ${result.rssAfterSyncMb} MB, ` +
            `burst peak ${result.burstPeakRssMb} MB (${result.burstApplied} applied), CPU settling ${result.settleCpuSeconds} s then idle ${result.idleCpuSeconds} s, RSS settled ${result.rssSettledMb} MB, lease→route p50 ${result.newLease.p50} p99 ${result.newLease.p99} ms, ` +
            `repair p99 ${backend.repairKinds.map((kind) => `${kind} ${result.repair[kind]?.p99} ms (missed ${result.repair[kind]?.missed})`).join(', ')}`);
        }
      }
    }
    report(results);
  } finally {
    client.close();
    kernel.close();
    await etcd.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

interface Environment {
  readonly work: string;
  readonly etcdUrl: string;
  readonly kernel: NetlinkKernel;
  readonly client: EtcdClient;
}

async function oneRound({ work, etcdUrl, kernel, client }: Environment, implementation: Implementation, peers: number, round: number): Promise<RoundResult> {
  const batchBaselineMs = round2(await backend.batchBaselineMs(work, peers, kernel));
  const leaseId = await writeLeases(client, backend.type, peers, (index) => backend.leaseValue(index));
  const logPath = join(work, `flanneld-${implementation}-${peers}-${round}.log`);
  const args = ['--etcd-endpoints', etcdUrl, '--iface', 'eth0', '--subnet-file', join(work, 'subnet.env'), '--iptables-forward-rules=false'];
  const monitor = NetlinkSocket.open({ groups: C.RTMGRP_IPV4_ROUTE | C.RTMGRP_NEIGH, receiveBufferBytes: 64 << 20, receiveTimeoutMs: 200 });
  let flanneld: ChildProcess | undefined;
  try {
    const started = process.hrtime.bigint();
    const variant = variants.get(implementation);
    flanneld = variant
      // Our own status socket: the default /run/flannel/flanneld.sock would be seen by any flannelctl on the host.
      ? startProcess(process.execPath, [...variant.nodeArgs, variant.script, ...args, '--status-socket', join(work, 'flanneld.sock')], logPath)
      : startProcess(values.upstream, args, logPath);
    const child = flanneld;
    const failed = (what: string) => new Error(`${implementation}, ${peers} peers: ${what}; log:\n${readFileSync(logPath, 'utf8').slice(-3000)}`);
    const poll = (match: (message: NetlinkMessage) => boolean, timeoutMs: number) => pollUntil(monitor, child, match, timeoutMs, failed);

    const wanted = new Set(Array.from({ length: peers }, (_, index) => benchPeer(index).subnet));
    const seen = new Set<string>();
    const routeOf = (message: NetlinkMessage): Route | undefined => (message.type === C.RTM_NEWROUTE ? decodeRoute(message.payload) : undefined);
    for (let synced: number | undefined; synced === undefined;) {
      try {
        synced = poll((message) => {
          const dst = routeOf(message)?.dst.toString();
          if (dst !== undefined && wanted.has(dst)) seen.add(dst);
          return seen.size === wanted.size;
        }, 300_000);
        if (synced === undefined) throw failed(`${seen.size} of ${peers} routes`);
      } catch (error) {
        if ((error as { code?: string }).code !== 'ENOBUFS') throw error;
        // The monitor overflowed: what it missed is in the kernel's table (a dump costs both the same).
        for (const route of await kernel.listRoutes()) if (wanted.has(route.dst.toString())) seen.add(route.dst.toString());
        if (seen.size === wanted.size) synced = 0;
      }
    }
    const startToAllMs = Math.round(Number(process.hrtime.bigint() - started) / 1e6);
    await sleep(2000);
    const rssAfterSyncMb = rssMb(child.pid);
    const rssAnonAfterSyncMb = rssMb(child.pid, 'RssAnon');
    const rssFileAfterSyncMb = rssMb(child.pid, 'RssFile');

    const cpuAfterSync = cpuSeconds(child.pid);
    await sleep(idleSeconds * 1000);
    const cpuSettled = cpuSeconds(child.pid);
    const settleCpuSeconds = round2(cpuSettled - cpuAfterSync);
    await sleep(idleSeconds * 1000);
    const idleCpuSeconds = round2(cpuSeconds(child.pid) - cpuSettled);
    const rssSettledMb = rssMb(child.pid);
    drain(monitor);

    const latencies: number[] = [];
    for (let sample = 0; sample < latencySamples; sample++) {
      const index = peers + sample;
      const subnet = benchPeer(index).subnet;
      const written = process.hrtime.bigint();
      await client.put(`/coreos.com/network/subnets/${benchPeer(index).key}`, backend.leaseValue(index), leaseId);
      if (poll((message) => routeOf(message)?.dst.toString() === subnet, 5000) === undefined) throw failed(`lease ${subnet} got no route`);
      latencies.push(Number(process.hrtime.bigint() - written) / 1e6);
      await sleep(10);
    }

    const repair = await repairs(kernel, poll, wanted);

    drain(monitor);
    resetPeakRss(child.pid);
    const changed = new Set<string>();
    const puts = Array.from({ length: Math.min(burstSize, peers, backend.burstLimit) }, (_, index) => [`/coreos.com/network/subnets/${benchPeer(index).key}`, backend.leaseValue(index, true)] as const);
    // One put per lease, 50 in flight: upstream v0.20.2 reads only the first event of each watch response, so
    // changes written in one transaction (one revision) would be lost on its side, not merely slow.
    for (let start = 0; start < puts.length; start += 50) await Promise.all(puts.slice(start, start + 50).map(([key, value]) => client.put(key, value, leaseId)));
    const marks = new Set(puts.map((_, index) => backend.burstMark(index)));
    // Until every change is in the kernel, or nothing more came for 3 s (upstream loses events of a burst).
    for (let before = -1; changed.size > before && changed.size < marks.size;) {
      before = changed.size;
      poll((message) => {
        const mark = backend.burstMarkOf(message);
        if (mark !== undefined && marks.has(mark)) changed.add(mark);
        return changed.size === marks.size;
      }, 3000);
    }
    const burstApplied = changed.size;
    await sleep(1000);
    const burstPeakRssMb = peakRssMbOf(child.pid);

    const sorted = summary(latencies);
    return { startToAllMs, batchBaselineMs, rssAfterSyncMb, rssAnonAfterSyncMb, rssFileAfterSyncMb, burstPeakRssMb, burstApplied, settleCpuSeconds, idleCpuSeconds, rssSettledMb, newLease: { p50: sorted.p50, p99: sorted.p99 }, repair };
  } finally {
    monitor.close();
    await stopProcess(flanneld);
    backend.cleanUp();
    await client.revokeLease(leaseId);
    // What is left under subnets/ is the flanneld's own lease: the next round starts without it.
    for (const kv of (await client.getPrefix('/coreos.com/network/subnets/')).kvs) await client.delete(kv.key);
    rmSync(join(work, 'subnet.env'), { force: true });
  }
}

type Poll = (match: (message: NetlinkMessage) => boolean, timeoutMs: number) => number | undefined;

/** Deletes `--drift` of flanneld's entries of each kind one at a time; how long until each is back. */
async function repairs(kernel: NetlinkKernel, poll: Poll, peerSubnets: ReadonlySet<string>): Promise<RoundResult['repair']> {
  const result: RoundResult['repair'] = {};
  for (const kind of backend.repairKinds) {
    const samples: number[] = [];
    let missed = 0;
    const targets = await backend.driftTargets(kernel, kind, driftSamples, peerSubnets);
    for (const target of targets) {
      // Two misses: this implementation does not repair this kind; the rest would only wait out the timeout.
      if (missed >= 2) break;
      const deleted = process.hrtime.bigint();
      const failures = 'dst' in target ? await kernel.applyRouteOps([{ kind: 'delete', route: target }]) : await kernel.applyNeighbourOps([{ kind: 'delete', entry: target }]);
      if (failures.length > 0) throw failures[0]?.error;
      const back = poll((message) => {
        if ('dst' in target) return message.type === C.RTM_NEWROUTE && decodeRoute(message.payload)?.dst.equals(target.dst) === true;
        const entry = message.type === C.RTM_NEWNEIGH ? decodeNeighbour(message.payload) : undefined;
        return entry !== undefined && neighbourKey(entry) === neighbourKey(target) && (entry.state & NUD_PERMANENT) !== 0;
      }, REPAIR_WAIT_MS);
      if (back === undefined) missed++;
      else samples.push(Number(process.hrtime.bigint() - deleted) / 1e6);
      await sleep(30);
    }
    const figures = summary(samples);
    result[kind] = { p50: figures.p50, p99: figures.p99, missed: missed + Math.max(0, targets.length - samples.length - missed) };
  }
  return result;
}

/**
 * Reads notifications until `match` says yes (returns ms waited) or `timeoutMs` passed (undefined); throws when
 * the flanneld exited.
 */
function pollUntil(monitor: NetlinkSocket, child: ChildProcess, match: (message: NetlinkMessage) => boolean, timeoutMs: number, failed: (what: string) => Error): number | undefined {
  const started = Date.now();
  for (;;) {
    if (child.exitCode !== null) throw failed(`exited with ${child.exitCode}`);
    let messages: NetlinkMessage[] = [];
    try {
      messages = monitor.read();
    } catch (error) {
      if ((error as { code?: string }).code !== 'ETIMEDOUT' && (error as { code?: string }).code !== 'EAGAIN') throw error;
    }
    for (const message of messages) if (match(message)) return Date.now() - started;
    if (Date.now() - started > timeoutMs) return undefined;
  }
}

/** Drops notifications that queued up while the bench was not reading. */
function drain(monitor: NetlinkSocket): void {
  for (;;) {
    try {
      if (monitor.read().length === 0) return;
    } catch {
      return;
    }
  }
}

function report(results: Record<number, Record<Implementation, RoundResult[]>>): void {
  const figures: Array<[string, string, (row: RoundResult) => number]> = [
    ['start → all entries', 'ms', (row) => row.startToAllMs],
    [`  ${backend.baselineLabel}`, 'ms', (row) => row.batchBaselineMs],
    ['RSS after sync', 'MB', (row) => row.rssAfterSyncMb],
    ['  of which anonymous', 'MB', (row) => row.rssAnonAfterSyncMb],
    ['  of which file-backed', 'MB', (row) => row.rssFileAfterSyncMb],
    [`RSS peak, burst of ${burstSize}`, 'MB', (row) => row.burstPeakRssMb],
    [`burst changes applied (of ${burstSize})`, '', (row) => row.burstApplied],
    [`CPU over the ${idleSeconds} s after sync`, 's', (row) => row.settleCpuSeconds],
    [`idle CPU over the next ${idleSeconds} s`, 's', (row) => row.idleCpuSeconds],
    ['RSS settled (after both)', 'MB', (row) => row.rssSettledMb],
    [`new lease → route p50 (${latencySamples})`, 'ms', (row) => row.newLease.p50],
    [`new lease → route p99`, 'ms', (row) => row.newLease.p99],
    ...backend.repairKinds.flatMap((kind): Array<[string, string, (row: RoundResult) => number]> => [
      [`${kind} deleted → back p50 (${driftSamples})`, 'ms', (row) => row.repair[kind]?.p50 ?? Number.NaN],
      [`${kind} deleted → back p99`, 'ms', (row) => row.repair[kind]?.p99 ?? Number.NaN],
      [`${kind} deletions not back in ${REPAIR_WAIT_MS} ms`, '', (row) => row.repair[kind]?.missed ?? Number.NaN],
    ]),
  ];
  const show = (spread: Spread, unit: string) => (Number.isNaN(spread.median) ? 'never' : `${spread.median}${unit ? ` ${unit}` : ''} [${spread.min}–${spread.max}]`);
  const saved: Record<string, unknown> = {};
  for (const [peers, byImplementation] of Object.entries(results)) {
    const columns = [...variants.keys()];
    console.log(`\n${backend.type}, ${peers} peers, medians over ${rounds} rounds [min–max]:`);
    console.log(`  ${'figure'.padEnd(38)} ${columns.map((label) => label.padEnd(26)).join(' ')} ${'upstream v0.20.2'.padEnd(26)} ${columns.map((label) => `${label}/upstream`).join('  ')}`);
    const table: Record<string, Record<string, Spread>> = {};
    for (const [label, unit, pick] of figures) {
      const spreads = Object.fromEntries(implementations.map((implementation) => [implementation, spreadOf((byImplementation[implementation] ?? []).map(pick))]));
      table[label] = spreads;
      const upstream = spreads.upstream as Spread;
      const ratios = columns.map((column) => {
        const ratio = (spreads[column] as Spread).median / upstream.median;
        return String(Number.isFinite(ratio) ? round2(ratio) : '—').padEnd(column.length + 10);
      });
      console.log(`  ${label.padEnd(38)} ${columns.map((column) => show(spreads[column] as Spread, unit).padEnd(26)).join(' ')} ${show(upstream, unit).padEnd(26)} ${ratios.join(' ')}`);
    }
    for (const column of columns) {
      const ratio = spreadOf((byImplementation[column] ?? []).map((row) => round2(row.startToAllMs / row.batchBaselineMs)));
      console.log(`  ${`${column} start → all / batch baseline`.padEnd(38)} ${show(ratio, '×')}`);
    }
    saved[peers] = { table, rounds: byImplementation };
  }
  saveResult(backend.type === 'vxlan' ? 'scale-vs-upstream' : `scale-vs-upstream-${backend.type}`, saved);
}
