/**
 * The two-host topology of the udp benchmark, and the forwarders it compares. Namespaces (all named
 * `ftbu<FLANNEL_TS_LAB_TAG>-…`, deleted by name): hosts h1 and h2 joined by a veth underlay (198.18.0.1/24, 198.18.0.2/24), and
 * on each host a pod behind a bridge as the bridge CNI plugin wires it (cni0 10.244.N.1/24, pod 10.244.N.2).
 * etcd runs in h1 on the underlay address, for upstream's flanneld. Either forwarder gives each host flannel0
 * with 10.244.N.0/32, MTU 1472 and a route for 10.244.0.0/16: upstream's flanneld does it itself, ours is
 * bench/udp-forwarder-host.js with the addresses and route added by hand (the reconciler's job in flanneld).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inNetns, listNetns, run } from '../src/lab/shell.js';
import { sleep } from '../src/support/timing.js';

/** `ftbu` plus FLANNEL_TS_LAB_TAG, so that two checkouts can run udp benches at the same time. */
export const PREFIX = `ftbu${process.env.FLANNEL_TS_LAB_TAG ?? ''}`;
export const HOSTS = [1, 2].map((n) => ({ n, netns: `${PREFIX}-h${n}`, pod: `${PREFIX}-p${n}`, underlay: `198.18.0.${n}`, podIp: `10.244.${n}.2` }));
export type BenchHost = (typeof HOSTS)[number];
const ETCD = 'http://198.18.0.1:23791';
export const UPSTREAM_FLANNELD = process.env.FLANNEL_TS_UPSTREAM_FLANNELD ?? '/work/upstream/flanneld-v0.20.2';
const HOST_SCRIPT = fileURLToPath(new URL('./udp-forwarder-host.js', import.meta.url));

/** A running forwarder on one host: its pid (for CPU time), lines it printed, and how to stop it. */
export interface Forwarder {
  readonly pid: number;
  readonly output: () => string;
  stop(): Promise<void>;
}

function spawnIn(netns: string, command: string, args: readonly string[]): Forwarder {
  const child: ChildProcess = spawn('ip', ['netns', 'exec', netns, command, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    pid: child.pid as number,
    output: () => output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await Promise.race([exited, sleep(5000)]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

async function until(what: string, probe: () => boolean, timeoutMs = 10_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !probe();) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

export function deleteNamespaces(): void {
  const existing = new Set(listNetns());
  for (const host of HOSTS) for (const netns of [host.pod, host.netns]) if (existing.has(netns)) run('ip', ['netns', 'del', netns], { allowFailure: true });
}

/** Builds hosts, pods and underlay, and starts etcd in h1. Returns what `tearDown` needs. */
export async function buildTopology(): Promise<{ etcd: Forwarder; dataDir: string }> {
  deleteNamespaces();
  const [h1, h2] = HOSTS as [BenchHost, BenchHost];
  for (const host of HOSTS) for (const netns of [host.netns, host.pod]) run('ip', ['netns', 'add', netns]);
  inNetns(h1.netns, 'ip', ['link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', h2.netns]);
  for (const host of HOSTS) {
    const ip = (...args: string[]) => inNetns(host.netns, 'ip', args);
    ip('addr', 'add', `${host.underlay}/24`, 'dev', 'eth0');
    ip('link', 'set', 'eth0', 'up');
    ip('link', 'set', 'lo', 'up');
    inNetns(host.netns, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
    ip('link', 'add', 'cni0', 'type', 'bridge');
    ip('addr', 'add', `10.244.${host.n}.1/24`, 'dev', 'cni0');
    ip('link', 'set', 'cni0', 'mtu', '1472', 'up');
    ip('link', 'add', 'veth-pod', 'mtu', '1472', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', host.pod);
    ip('link', 'set', 'veth-pod', 'master', 'cni0', 'up');
    inNetns(host.pod, 'ip', ['addr', 'add', `${host.podIp}/24`, 'dev', 'eth0']);
    inNetns(host.pod, 'ip', ['link', 'set', 'eth0', 'up']);
    inNetns(host.pod, 'ip', ['link', 'set', 'lo', 'up']);
    inNetns(host.pod, 'ip', ['route', 'add', 'default', 'via', `10.244.${host.n}.1`]);
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'flannel-ts-udp-bench-'));
  const etcd = spawnIn(h1.netns, 'etcd', [
    '--name', 'bench', '--data-dir', dataDir, '--listen-client-urls', ETCD, '--advertise-client-urls', ETCD,
    '--listen-peer-urls', 'http://127.0.0.1:23792', '--initial-advertise-peer-urls', 'http://127.0.0.1:23792',
    '--initial-cluster', 'bench=http://127.0.0.1:23792', '--log-level', 'error',
  ]);
  await until('etcd', () => inNetns(h1.netns, 'etcdctl', ['--endpoints', ETCD, 'endpoint', 'health'], { allowFailure: true }).status === 0);
  etcdctl(['put', '/coreos.com/network/config', JSON.stringify({ Network: '10.244.0.0/16', Backend: { Type: 'udp' } })]);
  // Each host's lease written beforehand, as upstream writes udp leases (no BackendType): upstream's flanneld
  // takes over the lease that carries its public IP, so both forwarders serve the same subnets and pods.
  const grant = /lease ([0-9a-f]+) granted/.exec(etcdctl(['lease', 'grant', '86400']))?.[1];
  for (const host of HOSTS) {
    etcdctl(['put', `--lease=${grant}`, `/coreos.com/network/subnets/10.244.${host.n}.0-24`, JSON.stringify({ PublicIP: host.underlay, PublicIPv6: null })]);
  }
  return { etcd, dataDir };
}

function etcdctl(args: readonly string[]): string {
  return inNetns((HOSTS[0] as BenchHost).netns, 'etcdctl', ['--endpoints', ETCD, ...args]).stdout;
}

export async function tearDown(built: { etcd: Forwarder; dataDir: string } | undefined): Promise<void> {
  await built?.etcd.stop();
  if (built) rmSync(built.dataDir, { recursive: true, force: true });
  deleteNamespaces();
}

function flannel0Ready(host: BenchHost): boolean {
  return inNetns(host.netns, 'ip', ['route', 'show', '10.244.0.0/16'], { allowFailure: true }).stdout.includes('flannel0');
}

/** Our forwarder on `host`, flannel0 configured by hand; `extra` goes to udp-forwarder-host.js. */
export async function startOurs(host: BenchHost, extra: readonly string[] = []): Promise<Forwarder> {
  const peers = HOSTS.filter((peer) => peer !== host).map((peer) => `--peer=10.244.${peer.n}.0/24=${peer.underlay}`);
  const forwarder = spawnIn(host.netns, process.execPath, [HOST_SCRIPT, '--tun-address', `10.244.${host.n}.0`, '--bind', host.underlay, ...peers, ...extra]);
  await until('our flannel0', () => forwarder.output().includes('"device"'));
  const ip = (...args: string[]) => inNetns(host.netns, 'ip', args);
  ip('addr', 'add', `10.244.${host.n}.0/32`, 'dev', 'flannel0');
  ip('link', 'set', 'flannel0', 'mtu', '1472', 'up');
  ip('route', 'add', '10.244.0.0/16', 'dev', 'flannel0');
  return forwarder;
}

/** Upstream's flanneld (udp backend) on `host`; resolves once its flannel0 route is in place. */
export async function startUpstream(host: BenchHost): Promise<Forwarder> {
  const forwarder = spawnIn(host.netns, UPSTREAM_FLANNELD, [
    `--etcd-endpoints=${ETCD}`, '--iface=eth0', `--subnet-file=/tmp/${PREFIX}-${host.n}.env`, '--ip-masq=false',
  ]);
  await until('upstream flannel0', () => flannel0Ready(host), 20_000);
  return forwarder;
}

/** CPU seconds (user + system, all threads) a process has used. */
export function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Round-trip percentiles (ms) of `count` pings from `from` to `to`, 5 ms apart, after 20 unrecorded ones. */
export function pingRtt(from: string, to: string, count: number): { p50: number; p90: number; lost: number } {
  inNetns(from, 'ping', ['-c', '20', '-i', '0.01', '-q', to], { allowFailure: true });
  const output = inNetns(from, 'ping', ['-c', String(count), '-i', '0.005', to], { allowFailure: true, timeoutMs: 60_000 }).stdout;
  const times = [...output.matchAll(/time=([0-9.]+)/g)].map((match) => Number(match[1])).sort((a, b) => a - b);
  const at = (fraction: number) => times[Math.min(times.length - 1, Math.floor(times.length * fraction))] ?? Number.NaN;
  return { p50: at(0.5), p90: at(0.9), lost: count - times.length };
}

/** One bounded iperf3 run (TCP) from pod `from` to pod `to`; returns Gbit/s received. */
export async function iperf(from: BenchHost, to: BenchHost, streams: number, seconds: number): Promise<number> {
  const server = spawn('ip', ['netns', 'exec', to.pod, 'iperf3', '-s', '-1', '-B', to.podIp], { stdio: 'ignore' });
  await sleep(300);
  try {
    const result = inNetns(from.pod, 'iperf3', ['-c', to.podIp, '-t', String(seconds), '-P', String(streams), '-J'], { timeoutMs: (seconds + 20) * 1000, allowFailure: true });
    const report = JSON.parse(result.stdout || '{}') as { end?: { sum_received?: { bits_per_second: number } } };
    return (report.end?.sum_received?.bits_per_second ?? 0) / 1e9;
  } finally {
    if (server.exitCode === null) server.kill('SIGTERM');
  }
}
