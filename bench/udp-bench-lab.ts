/**
 * The udp benchmark's lab and the daemons it compares, all full processes on the lab's hosts: our flanneld
 * on the udp backend, upstream's flanneld v0.20.2 on its udp backend (its C proxy), and our flanneld on vxlan.
 * One lab (src/lab: hosts on an underlay bridge, etcd, CNI pods without masquerade), prefix `ftbu` + the
 * FLANNEL_TS_LAB_TAG; switching kinds stops every daemon, puts the kind's config into etcd, removes what the
 * previous kind left that would steal traffic (flannel.1's more specific routes), starts the daemons on the
 * hosts asked for and sets the pods' MTU to the kind's FLANNEL_MTU. Leases are reused by public IP on every
 * side, so subnets and pod addresses stay the same throughout.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, openSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Lab } from '../src/lab/lab.js';
import type { LabHost } from '../src/lab/lab-layout.js';
import { inNetns, processAlive } from '../src/lab/shell.js';
import { sleep } from '../src/support/timing.js';

export type Kind = 'ours' | 'upstream' | 'vxlan';
export const UPSTREAM_FLANNELD = process.env.FLANNEL_TS_UPSTREAM_FLANNELD ?? '/work/upstream/flanneld-v0.20.2';
const BACKEND: Record<Kind, string> = { ours: 'udp', upstream: 'udp', vxlan: 'vxlan' };

export function benchLab(hosts: number): Lab {
  const tag = process.env.FLANNEL_TS_LAB_TAG ?? '';
  // -v 1: our udp data path logs its counters (debug) every second they change; the bench reads them there.
  return new Lab({ prefix: `ftbu${tag}`, hosts, backend: 'udp', cniDelegate: { ipMasq: false }, flanneldArgs: ['-v', '1'] });
}

/** Daemons started by `startKind` that are not the lab's own (upstream's), by host name. */
const upstreamProcesses = new Map<string, ChildProcess>();

/** Which kind runs on each host now. */
export const running = new Map<string, Kind>();

export async function stopAll(lab: Lab): Promise<void> {
  for (const host of lab.layout.hosts) {
    await lab.stopFlanneld(host);
    const child = upstreamProcesses.get(host.name);
    if (child?.pid !== undefined && processAlive(child.pid)) {
      child.kill('SIGTERM');
      for (let attempt = 0; attempt < 100 && processAlive(child.pid); attempt++) await sleep(50);
    }
    upstreamProcesses.delete(host.name);
    running.delete(host.name);
  }
}

/**
 * Starts `kind` on each host of `assignment` (every daemon stopped first) and resolves once each host has its
 * subnet file and its device route, with the pods' MTU set to the kind's. Returns that MTU (the last host's).
 */
export async function startKinds(lab: Lab, assignment: ReadonlyArray<[LabHost, Kind]>): Promise<number> {
  await stopAll(lab);
  const backends = new Set(assignment.map(([, kind]) => BACKEND[kind]));
  if (backends.size !== 1) throw new Error('one backend per network config');
  lab.putConfig({ ...lab.networkConfig(), Backend: { Type: [...backends][0] } });
  for (const [host, kind] of assignment) {
    // A vxlan run leaves flannel.1 and its per-peer routes, more specific than udp's Network route.
    if (kind !== 'vxlan') inNetns(host.netns, 'ip', ['link', 'del', 'flannel.1'], { allowFailure: true });
    rmSync(lab.subnetFile(host), { force: true });
    if (kind === 'upstream') upstreamProcesses.set(host.name, startUpstream(lab, host));
    else lab.startFlanneld(host);
    running.set(host.name, kind);
  }
  let mtu = Number.NaN;
  for (const [host, kind] of assignment) {
    const env = await lab.waitForSubnetEnv(host, 30_000);
    const device = kind === 'vxlan' ? 'flannel.1' : 'flannel0';
    for (const deadline = Date.now() + 20_000; !inNetns(host.netns, 'ip', ['route', 'show', 'dev', device], { allowFailure: true }).stdout.includes('10.244.');) {
      if (Date.now() > deadline) throw new Error(`${host.name}: no route on ${device} (${kind})`);
      await sleep(50);
    }
    mtu = Number(/FLANNEL_MTU=(\d+)/.exec(env)?.[1]);
    setPodMtu(host, mtu);
  }
  return mtu;
}

/**
 * Detached (a session of its own), as the lab starts ours: on a desktop-style kernel each session is a
 * scheduling group (autogroup), and a daemon left in the bench's session would share its group with the pings
 * and iperf3 it carries, and be woken faster than one in a group of its own (measured: 10 µs vs 150 µs).
 */
function startUpstream(lab: Lab, host: LabHost): ChildProcess {
  const out = openSync(join(lab.hostDir(host), 'upstream.log'), 'a');
  const child = spawn('ip', ['netns', 'exec', host.netns, UPSTREAM_FLANNELD, `--etcd-endpoints=${lab.etcdUrl}`, '--iface=eth0',
    `--subnet-file=${lab.subnetFile(host)}`, '--ip-masq=false'], { stdio: ['ignore', out, out], detached: true });
  child.unref();
  return child;
}

/** The pod's eth0 and its host-side veth get `mtu` (CNI set them to the first kind's FLANNEL_MTU). */
function setPodMtu(host: LabHost, mtu: number): void {
  if (!Number.isInteger(mtu)) throw new Error(`${host.name}: no FLANNEL_MTU`);
  inNetns(host.podNetns, 'ip', ['link', 'set', 'eth0', 'mtu', String(mtu)]);
  for (const line of inNetns(host.netns, 'ip', ['-o', 'link', 'show', 'master', 'cni0']).stdout.split('\n')) {
    const name = /^\d+: ([^@:]+)/.exec(line)?.[1];
    if (name) inNetns(host.netns, 'ip', ['link', 'set', name, 'mtu', String(mtu)]);
  }
}

/** The pid of the daemon on `host` (ours: the lab's record; upstream: the child we spawned). */
export function daemonPid(lab: Lab, host: LabHost): number {
  const pid = running.get(host.name) === 'upstream' ? upstreamProcesses.get(host.name)?.pid : lab.flanneldPid(host);
  if (pid === undefined) throw new Error(`${host.name}: no daemon`);
  return pid;
}

/** CPU seconds (user + system, all threads) a process has used. */
export function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

export type Counters = Record<string, number>;

/** The last counters our udp data path logged on `host` (debug line, at most 1 s old), or undefined. */
export function loggedCounters(lab: Lab, host: LabHost): Counters | undefined {
  const path = join(lab.hostDir(host), 'flanneld.log');
  if (!existsSync(path)) return undefined;
  const lines = readFileSync(path, 'utf8').split('\n').filter((line) => line.includes('"udp data path counters"'));
  const json = /counters=(\{[^}]*\})/.exec(lines.at(-1) ?? '')?.[1];
  return json ? (JSON.parse(json) as Counters) : undefined;
}

export function difference(after: Counters, before: Counters): Counters {
  return Object.fromEntries(Object.entries(after).map(([name, value]) => [name, value - (before[name] ?? 0)]));
}

/** Round-trip percentiles (ms) of `count` pings from pod `from` to `to`, 5 ms apart; `warmUp` unrecorded first. */
export function pingRtt(from: string, to: string, count: number, warmUp: number): { p50: number; p90: number; lost: number } {
  if (warmUp > 0) inNetns(from, 'ping', ['-c', String(warmUp), '-i', '0.01', '-q', to], { allowFailure: true });
  const output = inNetns(from, 'ping', ['-n', '-c', String(count), '-i', '0.005', '-W', '1', to], { allowFailure: true, timeoutMs: 60_000 }).stdout;
  const times = [...output.matchAll(/time=([0-9.]+)/g)].map((match) => Number(match[1])).sort((a, b) => a - b);
  const at = (fraction: number) => times[Math.min(times.length - 1, Math.floor(times.length * fraction))] ?? Number.NaN;
  return { p50: at(0.5), p90: at(0.9), lost: count - times.length };
}

/** One bounded iperf3 run (TCP) from pod `from` to pod `to`; returns Gbit/s received. */
export function iperf(lab: Lab, from: LabHost, to: LabHost, streams: number, seconds: number): Promise<number> {
  return iperfBetween(from.podNetns, to.podNetns, lab.podIp(to) as string, streams, seconds);
}

/** One bounded iperf3 run (TCP) from namespace `fromNetns` to a server on `toIp` in `toNetns`; Gbit/s received. */
export async function iperfBetween(fromNetns: string, toNetns: string, toIp: string, streams: number, seconds: number): Promise<number> {
  const server = spawn('ip', ['netns', 'exec', toNetns, 'iperf3', '-s', '-1', '-B', toIp], { stdio: 'ignore' });
  await sleep(300);
  try {
    const result = inNetns(fromNetns, 'iperf3', ['-c', toIp, '-t', String(seconds), '-P', String(streams), '-J'], { timeoutMs: (seconds + 20) * 1000, allowFailure: true });
    const report = JSON.parse(result.stdout || '{}') as { end?: { sum_received?: { bits_per_second: number } } };
    return (report.end?.sum_received?.bits_per_second ?? 0) / 1e9;
  } finally {
    if (server.exitCode === null) server.kill('SIGTERM');
  }
}

/** The median of `list` (the mean of the middle two when even). */
export function median(list: readonly number[]): number {
  const sorted = [...list].sort((a, b) => a - b);
  const middle = sorted.length / 2;
  return sorted.length % 2 ? (sorted[Math.floor(middle)] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}
