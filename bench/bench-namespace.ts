/**
 * Shared plumbing for the control-plane benchmarks: run the script again inside a network namespace made for
 * it (deleted afterwards by name), with an uplink veth on 198.18.0.1/15 and a real etcd on that namespace's
 * loopback; write many leases in batches; start flanneld and read its RSS. Nothing leaves the namespace.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { NetlinkKernel } from '../src/adapters/netlink/netlink-kernel.js';
import { EtcdClient } from '../src/adapters/etcd/etcd-client.js';
import { FLANNELD_JS, FLANNELD_NODE_FLAGS } from '../src/lab/lab.js';
import { run } from '../src/lab/shell.js';
import { type EtcdServer, startEtcd } from '../test/support/etcd-server.js';

/** Re-runs this script inside `netns` with `--inside`; returns false when already inside. */
export function reExecInNamespace(netns: string): boolean {
  if (process.argv.includes('--inside')) return false;
  run('ip', ['netns', 'del', netns], { allowFailure: true });
  run('ip', ['netns', 'add', netns]);
  try {
    const result = spawnSync('ip', ['netns', 'exec', netns, process.execPath, ...process.argv.slice(1), '--inside'], { stdio: 'inherit' });
    process.exitCode = result.status ?? 1;
  } finally {
    run('ip', ['netns', 'del', netns], { allowFailure: true });
  }
  return true;
}

export async function prepareNamespace(): Promise<EtcdServer> {
  prepareUplink();
  return startEtcd(24790);
}

/** Loopback up and the uplink veth eth0 on 198.18.0.1/15 (peers' public IPs are on it). */
export function prepareUplink(): void {
  run('ip', ['link', 'set', 'lo', 'up']);
  run('ip', ['link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0p']);
  run('ip', ['addr', 'add', '198.18.0.1/15', 'dev', 'eth0']);
  run('ip', ['link', 'set', 'eth0', 'up']);
  run('ip', ['link', 'set', 'eth0p', 'up']);
}

/** Peer number i (0-based): its subnet of 10.0.0.0/8, public IP on the uplink's /15, and VTEP MAC. */
export function benchPeer(index: number): { subnet: string; key: string; publicIP: string; mac: string } {
  const second = 1 + Math.floor(index / 256);
  const third = index % 256;
  const hex = (value: number) => value.toString(16).padStart(2, '0');
  return {
    subnet: `10.${second}.${third}.0/24`,
    key: `10.${second}.${third}.0-24`,
    publicIP: `198.19.${Math.floor(index / 250)}.${1 + (index % 250)}`,
    mac: `02:00:00:${hex(index >> 16)}:${hex((index >> 8) & 0xff)}:${hex(index & 0xff)}`,
  };
}

/** Writes the config and `count` leases (values from `value`) under one 24 h etcd lease, 100 per transaction. */
export async function writeLeases(client: EtcdClient, backend: string, count: number, value: (index: number) => string): Promise<bigint> {
  await client.put('/coreos.com/network/config', JSON.stringify({ Network: '10.0.0.0/8', Backend: { Type: backend } }));
  const grant = await client.grantLease(86400);
  for (let start = 0; start < count; start += 100) {
    const puts: Array<[string, string]> = [];
    for (let index = start; index < Math.min(count, start + 100); index++) puts.push([`/coreos.com/network/subnets/${benchPeer(index).key}`, value(index)]);
    await client.putAll(puts, grant.id);
  }
  return grant.id;
}

export function startFlanneld(etcdUrl: string, subnetFile: string): { child: ChildProcess; log: () => string } {
  const verbose = process.env.FLANNEL_TS_BENCH_VERBOSE ? ['-v', '1'] : [];
  const nodeArgs = process.env.FLANNEL_TS_NODE_ARGS !== undefined ? process.env.FLANNEL_TS_NODE_ARGS.split(' ').filter(Boolean) : FLANNELD_NODE_FLAGS;
  const child = spawn(process.execPath, [...nodeArgs, FLANNELD_JS, '--etcd-endpoints', etcdUrl, '--iface', 'eth0', '--subnet-file', subnetFile, '--status-socket', join(dirname(subnetFile), 'flanneld.sock'), '--iptables-forward-rules=false', '--logging-format=json', ...verbose], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr?.on('data', (chunk: Buffer) => (log += chunk.toString()));
  return { child, log: () => log };
}

/**
 * Resolves with the epoch ms at which flanneld logged that its reconciled routes add up to `routes` (without
 * polling the kernel, which would contend with flanneld for the RTNL lock and slow what is measured).
 */
export async function reconciledAt(log: () => string, routes: number, child: ChildProcess, timeoutMs = 120_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let total = 0;
    for (const line of log().split('\n')) {
      if (!line.includes('"kernel state reconciled"')) continue;
      const entry = JSON.parse(line) as { time: number; routes: number };
      total += entry.routes;
      if (total >= routes) return entry.time;
    }
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`flanneld did not reconcile ${routes} routes; log:\n${log().slice(-2000)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export async function stopProcess(child: ChildProcess | undefined, log?: () => string): Promise<void> {
  if (process.env.FLANNEL_TS_BENCH_VERBOSE && log) writeFileSync('/tmp/flanneld-bench.log', log());
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

export function percentile(sorted: readonly number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1)] ?? NaN;
}

/** Samples (ms) → count, p50, p99 and max, rounded to 0.01 ms. */
export function summary(samples: readonly number[]): { samples: number; p50: number; p99: number; max: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  const round = (value: number) => Number(value.toFixed(2));
  return { samples: sorted.length, p50: round(percentile(sorted, 0.5)), p99: round(percentile(sorted, 0.99)), max: round(sorted.at(-1) ?? NaN) };
}

/** Milliseconds from `since` (hrtime) until `seen()` — a blocking read of a notification socket — says yes. */
export function timeUntil(since: bigint, seen: () => boolean): number {
  // Each call of `seen` blocks on the socket until the kernel has something (or its receive timeout throws).
  while (!seen()) continue;
  return Number(process.hrtime.bigint() - since) / 1e6;
}

/** A process's resident memory in MB (/proc/PID/status): all of it (VmRSS), or its anonymous or file-backed part. */
export function rssMb(pid: number | undefined, field: 'VmRSS' | 'RssAnon' | 'RssFile' = 'VmRSS'): number {
  const kb = Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  return Number((kb / 1024).toFixed(1));
}

export function saveResult(name: string, result: unknown): void {
  mkdirSync('bench/results', { recursive: true });
  writeFileSync(`bench/results/${name}.json`, JSON.stringify(result, null, 2) + '\n');
}

export interface BenchEnvironment {
  readonly work: string;
  readonly etcd: EtcdServer;
  readonly kernel: NetlinkKernel;
  /** Starts flanneld; the environment stops it at the end. */
  readonly startFlanneld: () => ReturnType<typeof startFlanneld>;
}

/** Runs `body` with a work directory, the namespace's uplink and etcd, and a netlink socket; cleans all up. */
export async function inBenchEnvironment(body: (environment: BenchEnvironment) => Promise<void>): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'flannel-ts-bench-'));
  const etcd = await prepareNamespace();
  let kernel: NetlinkKernel | undefined;
  let flanneld: ReturnType<typeof startFlanneld> | undefined;
  try {
    kernel = NetlinkKernel.open();
    await body({ work, etcd, kernel, startFlanneld: () => (flanneld = startFlanneld(etcd.url, join(work, 'subnet.env'))) });
  } finally {
    await stopProcess(flanneld?.child, flanneld?.log);
    kernel?.close();
    await etcd.stop();
    rmSync(work, { recursive: true, force: true });
  }
}
