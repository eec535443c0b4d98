/**
 * Shared plumbing for the benchmarks that run flanneld processes side by side (ours and upstream): start a
 * process with its output in a file, read its CPU time and peak RSS from /proc, reset the peak, the
 * `ip -batch` + `bridge -batch` baseline for N vxlan peers, and medians with their spread over rounds.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NetlinkKernel } from '../src/adapters/netlink/netlink-kernel.js';
import { NUD_PERMANENT } from '../src/dataplane/kernel-objects.js';
import { run } from '../src/lab/shell.js';
import { benchPeer, percentile } from './bench-namespace.js';

/** Starts `command`; its output goes to `logPath` (a pipe nobody drains while the bench blocks on netlink would stall it). */
export function startProcess(command: string, args: readonly string[], logPath: string, env: Record<string, string> = {}): ChildProcess {
  const out = openSync(logPath, 'a');
  const child = spawn(command, args, { stdio: ['ignore', out, out], env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env } });
  closeSync(out);
  return child;
}

/** User + system CPU seconds the process used so far. */
export function cpuSeconds(pid: number | undefined): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  // utime and stime are fields 14 and 15 (11 and 12 after the command), in clock ticks (100 per second).
  return round2((Number(fields[11]) + Number(fields[12])) / 100);
}

/** Peak RSS (VmHWM) in MB, since the start or the last `resetPeakRss`. */
export function peakRssMbOf(pid: number | undefined): number {
  const kb = Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  return Number((kb / 1024).toFixed(1));
}

/** Resets the process's peak RSS to its current RSS (Linux ≥ 4.0: clear_refs 5), to measure the peak of one phase. */
export function resetPeakRss(pid: number | undefined): void {
  writeFileSync(`/proc/${pid}/clear_refs`, '5');
}

/**
 * Milliseconds `ip -batch` + `bridge -batch` take to install the entries of `count` vxlan peers (route, permanent
 * neighbour, FDB entry each) on a hand-made vxlan device on eth0: the kernel's limit for what flanneld programs.
 * The device is deleted afterwards; throws when the kernel did not get every entry.
 */
export async function vxlanBatchBaselineMs(work: string, count: number, kernel: NetlinkKernel): Promise<number> {
  run('ip', ['link', 'add', 'vxb', 'type', 'vxlan', 'id', '99', 'dstport', '8473', 'local', '198.18.0.1', 'dev', 'eth0', 'nolearning']);
  try {
    run('ip', ['link', 'set', 'vxb', 'up']);
    const ipBatch: string[] = [];
    const fdbBatch: string[] = [];
    for (let index = 0; index < count; index++) {
      const peer = benchPeer(index);
      const gateway = peer.subnet.split('/')[0];
      ipBatch.push(`neigh replace ${gateway} lladdr ${peer.mac} dev vxb nud permanent`, `route add ${peer.subnet} via ${gateway} dev vxb onlink proto 112`);
      fdbBatch.push(`fdb append ${peer.mac} dev vxb dst ${peer.publicIP} self permanent`);
    }
    writeFileSync(join(work, 'ip.batch'), ipBatch.join('\n') + '\n');
    writeFileSync(join(work, 'fdb.batch'), fdbBatch.join('\n') + '\n');
    const started = process.hrtime.bigint();
    run('ip', ['-batch', join(work, 'ip.batch')]);
    run('bridge', ['-batch', join(work, 'fdb.batch')]);
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    const device = (await kernel.listLinks()).find((link) => link.name === 'vxb')?.index;
    const routes = (await kernel.listRoutes()).filter((route) => route.protocol === 112 && route.linkIndex === device).length;
    const entries = (await kernel.listNeighbours()).filter((entry) => entry.linkIndex === device && entry.state & NUD_PERMANENT && entry.ip !== undefined);
    const neighbours = entries.filter((entry) => entry.kind === 'neigh').length;
    const fdb = entries.length - neighbours;
    if (routes !== count || neighbours !== count || fdb !== count) throw new Error(`baseline incomplete: ${routes} routes, ${neighbours} neighbours, ${fdb} FDB entries of ${count}`);
    return ms;
  } finally {
    run('ip', ['link', 'del', 'vxb'], { allowFailure: true });
  }
}

export interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

/** Median and range of one figure over rounds (NaN when there are none). */
export function spreadOf(values: readonly number[]): Spread {
  const sorted = values.filter((value) => !Number.isNaN(value)).sort((a, b) => a - b);
  return { median: round2(percentile(sorted, 0.5)), min: sorted[0] ?? NaN, max: sorted.at(-1) ?? NaN };
}

export function round2(value: number): number {
  return Number(value.toFixed(2));
}
