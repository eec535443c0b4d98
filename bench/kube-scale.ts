/**
 * Benchmark, Kubernetes mode at scale: 5,000 Nodes (flannel vxlan peers, realistic status) in the fake API
 * server, our flanneld and upstream flanneld v0.20.2 (/work/upstream/flanneld-v0.20.2, client-go) against the
 * same server, alternating, in fresh rounds (a new server from the same state file, flannel.1 deleted):
 *  - flanneld start → all 5,000 routes (counted from the kernel's route notifications, the same for both);
 *  - RSS after sync (VmRSS), peak (VmHWM), CPU seconds used until sync;
 *  - node created in the API → its route in the kernel, over `--latency` nodes one at a time: p50/p99, from the
 *    creating POST's answer (the server has written the watch event by then; the POST's own time is reported
 *    apart, it is the fake's share).
 * Upstream running through list, watch and both status patches against the fake is also the check that the
 * fake is faithful to client-go; the requests each client made are summarised from the server's request log.
 * Run as root after `npm run build`: node dist/bench/kube-scale.js [--nodes 5000] [--latency 200] [--rounds 3]
 * [--upstream PATH] (FLANNEL_TS_NODE_ARGS overrides our Node flags; FLANNEL_TS_BENCH_VERBOSE=1 runs ours with -v 1
 * and keeps both logs in /tmp/flanneld-kube-bench-*.log). Writes bench/results/kube-scale.json.
 * Everything stays inside a namespace it makes (ftbenchk).
 */
import type { ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as C from '../src/adapters/netlink/constants.js';
import { decodeRoute } from '../src/adapters/netlink/messages.js';
import { NetlinkSocket } from '../src/adapters/netlink/netlink-socket.js';
import { FAKE_APISERVER_JS, FLANNELD_JS, FLANNELD_NODE_FLAGS } from '../src/lab/lab.js';
import { LabKubeAdmin } from '../src/lab/lab-kube-admin.js';
import { makeLabPki } from '../src/lab/lab-pki.js';
import { run } from '../src/lab/shell.js';
import { sleep } from '../src/support/timing.js';
import { benchPeer, percentile, prepareUplink, reExecInNamespace, rssMb, saveResult, stopProcess } from './bench-namespace.js';
import { cpuSeconds, peakRssMbOf, round2, spreadOf, startProcess } from './bench-process.js';
import { benchNode, ownNode } from './kube-bench-nodes.js';

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '5000' }, latency: { type: 'string', default: '200' }, rounds: { type: 'string', default: '3' },
    upstream: { type: 'string', default: '/work/upstream/flanneld-v0.20.2' }, inside: { type: 'boolean', default: false },
  },
});
const nodeCount = Number(values.nodes);
const latencySamples = Number(values.latency);
const rounds = Number(values.rounds);
const NET_CONF = '{"Network":"10.0.0.0/8","Backend":{"Type":"vxlan"}}';
const API = '127.0.0.1:6443';

if (!reExecInNamespace('ftbenchk')) await inside();

interface RoundResult {
  readonly startToAllRoutesMs: number;
  readonly rssAfterSyncMb: number;
  readonly peakRssMb: number;
  readonly cpuSecondsToSync: number;
  /** From the POST's answer (the server sends the watch event before it answers) to the route. */
  readonly nodeToRouteMs: { readonly p50: number; readonly p99: number; readonly max: number };
  /** The POST itself (the fake server's share, the same for both). */
  readonly createAnsweredMs: { readonly p50: number; readonly p99: number };
}

type Implementation = 'flannel-ts' | 'upstream-v0.20.2';

async function inside(): Promise<void> {
  if (!existsSync(values.upstream)) throw new Error(`no upstream flanneld at ${values.upstream} (--upstream PATH)`);
  prepareUplink();
  const work = mkdtempSync(join(tmpdir(), 'flannel-ts-kube-bench-'));
  try {
    makeLabPki(join(work, 'pki'), 'bench-ca', [{ name: 'apiserver', commonName: 'kube-apiserver', usage: 'serverAuth', altNames: ['IP:127.0.0.1'] }]);
    writeFileSync(join(work, 'tokens'), 'flannel-bench\nadmin-bench\n');
    writeFileSync(join(work, 'net-conf.json'), NET_CONF);
    const ca = readFileSync(join(work, 'pki', 'ca.crt')).toString('base64');
    writeFileSync(join(work, 'kubeconfig'), JSON.stringify({
      apiVersion: 'v1', kind: 'Config', 'current-context': 'bench',
      clusters: [{ name: 'bench', cluster: { server: `https://${API}`, 'certificate-authority-data': ca } }],
      users: [{ name: 'flannel', user: { token: 'flannel-bench' } }], contexts: [{ name: 'bench', context: { cluster: 'bench', user: 'flannel' } }],
    }));
    const nodes = [ownNode(), ...Array.from({ length: nodeCount }, (_, index) => benchNode(index))];
    writeFileSync(join(work, 'state.json'), JSON.stringify({ resourceVersion: nodes.length + 10, uidCounter: nodes.length, nodes, pods: [] }));
    const listBytes = Buffer.byteLength(JSON.stringify(nodes));
    console.log(`kube-scale: ${nodeCount} Nodes (${(listBytes / 1e6).toFixed(1)} MB as a list), ${rounds} rounds each, alternating`);

    const results: Record<Implementation, RoundResult[]> = { 'flannel-ts': [], 'upstream-v0.20.2': [] };
    const requests: Record<Implementation, string[]> = { 'flannel-ts': [], 'upstream-v0.20.2': [] };
    for (let round = 0; round < rounds; round++) {
      for (const implementation of (round % 2 === 0 ? ['flannel-ts', 'upstream-v0.20.2'] : ['upstream-v0.20.2', 'flannel-ts']) as Implementation[]) {
        const result = await oneRound(work, implementation, round, requests[implementation]);
        results[implementation].push(result);
        console.log(`  round ${round + 1} ${implementation.padEnd(16)} start→all routes ${result.startToAllRoutesMs} ms, RSS ${result.rssAfterSyncMb} MB (peak ${result.peakRssMb}), CPU ${result.cpuSecondsToSync} s, node→route p50 ${result.nodeToRouteMs.p50} ms p99 ${result.nodeToRouteMs.p99} ms (POST answered p50 ${result.createAnsweredMs.p50} ms)`);
      }
    }
    report(results, requests);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

async function oneRound(work: string, implementation: Implementation, round: number, requestShapes: string[]): Promise<RoundResult> {
  run('ip', ['link', 'del', 'flannel.1'], { allowFailure: true });
  const state = join(work, `state-${implementation}-${round}.json`);
  copyFileSync(join(work, 'state.json'), state);
  const requestLog = join(work, `requests-${implementation}-${round}.log`);
  const server = startProcess(process.execPath, [FAKE_APISERVER_JS, '--listen', API, '--listen-unix', join(work, 'api.sock'),
    '--tls-cert-file', join(work, 'pki', 'apiserver.crt'), '--tls-private-key-file', join(work, 'pki', 'apiserver.key'),
    '--token-file', join(work, 'tokens'), '--state-file', state, '--request-log', requestLog], join(work, 'apiserver.log'), {});
  const admin = new LabKubeAdmin(join(work, 'api.sock'), () => 'admin-bench');
  let flanneld: ChildProcess | undefined;
  const monitor = NetlinkSocket.open({ groups: C.RTMGRP_IPV4_ROUTE, receiveBufferBytes: 32 << 20, receiveTimeoutMs: 200 });
  try {
    for (let attempt = 0; !(await admin.ready()); attempt++) {
      if (attempt > 200) throw new Error(`the fake API server did not start: ${readFileSync(join(work, 'apiserver.log'), 'utf8')}`);
      await sleep(50);
    }
    const args = ['--kube-subnet-mgr', '--kubeconfig-file', join(work, 'kubeconfig'), '--net-config-path', join(work, 'net-conf.json'),
      '--iface', 'eth0', '--subnet-file', join(work, 'subnet.env'), '--iptables-forward-rules=false'];
    const nodeArgs = process.env.FLANNEL_TS_NODE_ARGS !== undefined ? process.env.FLANNEL_TS_NODE_ARGS.split(' ').filter(Boolean) : FLANNELD_NODE_FLAGS;
    const logPath = join(work, `flanneld-${implementation}-${round}.log`);
    const started = process.hrtime.bigint();
    const verbose = process.env.FLANNEL_TS_BENCH_VERBOSE ? ['-v', '1'] : [];
    flanneld = implementation === 'flannel-ts'
      ? startProcess(process.execPath, [...nodeArgs, FLANNELD_JS, ...args, '--status-socket', join(work, 'flanneld.sock'), ...verbose], logPath, { NODE_NAME: 'bench' })
      : startProcess(values.upstream, args, logPath, { NODE_NAME: 'bench' });
    const seen = new Set<string>();
    const deadline = Date.now() + 180_000;
    while (seen.size < nodeCount) {
      if (Date.now() > deadline || flanneld.exitCode !== null) throw new Error(`${implementation}: ${seen.size} of ${nodeCount} routes; log:\n${readFileSync(logPath, 'utf8').slice(-3000)}`);
      for (const route of newRoutes(monitor)) seen.add(route);
    }
    const startToAllRoutesMs = Math.round(Number(process.hrtime.bigint() - started) / 1e6);
    const cpuSecondsToSync = cpuSeconds(flanneld.pid);
    await sleep(2000);
    const rssAfterSyncMb = rssMb(flanneld.pid);
    const peakRssMb = peakRssMbOf(flanneld.pid);
    const latencies: number[] = [];
    const answers: number[] = [];
    for (let sample = 0; sample < latencySamples; sample++) {
      const node = benchNode(nodeCount + sample);
      const subnet = benchPeer(nodeCount + sample).subnet;
      const sent = process.hrtime.bigint();
      await admin.request('POST', '/api/v1/nodes', node);
      const answered = process.hrtime.bigint();
      for (let found = newRoutes(monitor).includes(subnet); !found;) {
        if (flanneld.exitCode !== null) throw new Error(`${implementation} exited`);
        found = newRoutes(monitor).includes(subnet);
      }
      latencies.push(Number(process.hrtime.bigint() - answered) / 1e6);
      answers.push(Number(answered - sent) / 1e6);
      await sleep(10);
    }
    latencies.sort((a, b) => a - b);
    answers.sort((a, b) => a - b);
    return {
      startToAllRoutesMs, rssAfterSyncMb, peakRssMb, cpuSecondsToSync,
      nodeToRouteMs: { p50: round2(percentile(latencies, 0.5)), p99: round2(percentile(latencies, 0.99)), max: round2(latencies.at(-1) ?? NaN) },
      createAnsweredMs: { p50: round2(percentile(answers, 0.5)), p99: round2(percentile(answers, 0.99)) },
    };
  } finally {
    monitor.close();
    await stopProcess(flanneld);
    await stopProcess(server);
    if (process.env.FLANNEL_TS_BENCH_VERBOSE) copyFileSync(join(work, `flanneld-${implementation}-${round}.log`), `/tmp/flanneld-kube-bench-${implementation}-${round}.log`);
    // Read after both stopped: a watch is logged when it ends.
    if (existsSync(requestLog)) requestShapes.push(...shapes(readFileSync(requestLog, 'utf8')));
  }
}

/** The /24 destinations of routes just added (both flanneld's routes on flannel.1 are /24s in 10.0.0.0/8). */
function newRoutes(monitor: NetlinkSocket): string[] {
  let messages;
  try {
    messages = monitor.read();
  } catch (error) {
    if ((error as { code?: string }).code === 'ETIMEDOUT') return [];
    throw error;
  }
  const routes: string[] = [];
  for (const message of messages) {
    if (message.type !== C.RTM_NEWROUTE) continue;
    const route = decodeRoute(message.payload);
    const dst = route?.dst.toString() ?? '';
    if (route?.dst.prefixLength === 24 && dst.startsWith('10.') && dst !== '10.0.0.0/24') routes.push(dst);
  }
  return routes;
}




/** Each request of flanneld's user as `METHOD path?query-names` (values dropped but limit and RV 0), with its status. */
function shapes(log: string): string[] {
  return log.split('\n').filter((line) => line.includes(' token:flanne')).map((line) => {
    const [, , method = '', target = '', status = ''] = line.split(' ');
    const url = new URL(target, 'http://x');
    const names = [...url.searchParams.keys()].map((name) => (name === 'limit' || name === 'resourceVersion' && url.searchParams.get(name) === '0' ? `${name}=${url.searchParams.get(name)}` : name));
    return `${method} ${url.pathname.replace(/\/nodes\/[^/]+/, '/nodes/NAME')}${names.length > 0 ? `?${names.join('&')}` : ''} → ${status}`;
  });
}

function report(results: Record<Implementation, RoundResult[]>, requests: Record<Implementation, string[]>): void {
  const summary = (implementation: Implementation) => {
    const rows = results[implementation];
    const stat = (pick: (row: RoundResult) => number) => spreadOf(rows.map(pick));
    return {
      startToAllRoutesMs: stat((row) => row.startToAllRoutesMs), rssAfterSyncMb: stat((row) => row.rssAfterSyncMb), peakRssMb: stat((row) => row.peakRssMb),
      cpuSecondsToSync: stat((row) => row.cpuSecondsToSync), nodeToRouteP50Ms: stat((row) => row.nodeToRouteMs.p50), nodeToRouteP99Ms: stat((row) => row.nodeToRouteMs.p99),
      createAnsweredP50Ms: stat((row) => row.createAnsweredMs.p50),
    };
  };
  const ours = summary('flannel-ts');
  const upstream = summary('upstream-v0.20.2');
  const line = (label: string, key: keyof typeof ours, unit: string) => {
    const a = ours[key];
    const b = upstream[key];
    console.log(`  ${label.padEnd(28)} ours ${a.median} ${unit} [${a.min}–${a.max}]   upstream ${b.median} ${unit} [${b.min}–${b.max}]   ours/upstream ${round2(a.median / b.median)}`);
  };
  console.log(`medians over ${rounds} rounds [min–max], ${nodeCount} Nodes:`);
  line('start → all routes', 'startToAllRoutesMs', 'ms');
  line('RSS after sync', 'rssAfterSyncMb', 'MB');
  line('peak RSS', 'peakRssMb', 'MB');
  line('CPU until sync', 'cpuSecondsToSync', 's');
  line(`node → route p50 (${latencySamples})`, 'nodeToRouteP50Ms', 'ms');
  line(`node → route p99 (${latencySamples})`, 'nodeToRouteP99Ms', 'ms');
  line('(POST answered p50, the fake)', 'createAnsweredP50Ms', 'ms');
  const count = (list: string[]) => [...list.reduce((map, shape) => map.set(shape, (map.get(shape) ?? 0) + 1), new Map<string, number>())]
    .map(([shape, times]) => `${shape} ×${times / rounds}`);
  for (const implementation of ['flannel-ts', 'upstream-v0.20.2'] as const) {
    console.log(`requests per round, ${implementation}:`);
    for (const entry of count(requests[implementation])) console.log(`    ${entry}`);
  }
  saveResult('kube-scale', { nodes: nodeCount, latencySamples, rounds, ours, upstream, rounds_: results, requests: { ours: count(requests['flannel-ts']), upstream: count(requests['upstream-v0.20.2']) } });
}

