/**
 * ProcessStatsSource on Linux' /proc/self: CPU from process.cpuUsage(), memory from process.memoryUsage() and
 * /proc/self/status (VmSize, VmData), descriptors from /proc/self/fd and /proc/self/limits, and event-loop delay
 * from perf_hooks' monitorEventLoopDelay.
 *
 * The delay monitor samples every EVENT_LOOP_RESOLUTION_MS (a libuv timer that does not keep the process alive):
 * a block longer than that is seen at its full length. It starts at the first reading, i.e. once something
 * scrapes /metrics: its 20 wake-ups a second were most of an idle flanneld's CPU (~1–1.5 ms per second) on
 * nodes nobody scrapes; the first scrape therefore has no delay figures. Its histogram is reset at every reading,
 * so each scrape reports the delays since the previous one (Node drops the first interval after a reset, so a
 * block within one resolution of a scrape can be missed). Unlike prom-client, the resolution is subtracted: an
 * idle loop reports 0, not 0.05. A /proc file that cannot be read leaves its values
 * out (undefined), never fails the scrape.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { type IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks';
import type { ProcessStats, ProcessStatsSource } from '../../metrics/process-metrics.js';

export const EVENT_LOOP_RESOLUTION_MS = 50;

export class ProcProcessStats implements ProcessStatsSource {
  private readonly startTimeSeconds = Date.now() / 1000 - process.uptime();
  private delay: IntervalHistogram | undefined;

  /** Whether the event-loop monitor runs (from the first read on). */
  get monitoring(): boolean {
    return this.delay !== undefined;
  }

  read(): ProcessStats {
    const delay = this.startMonitor();
    const cpu = process.cpuUsage();
    const memory = process.memoryUsage();
    const status = readStatus();
    const stats: ProcessStats = {
      cpuUserSeconds: cpu.user / 1e6,
      cpuSystemSeconds: cpu.system / 1e6,
      residentBytes: memory.rss,
      ...(status.VmSize === undefined ? {} : { virtualBytes: status.VmSize }),
      ...(status.VmData === undefined ? {} : { heapBytes: status.VmData }),
      ...optional('openFds', openFds()),
      ...optional('maxFds', maxFds()),
      startTimeSeconds: this.startTimeSeconds,
      jsHeapUsedBytes: memory.heapUsed,
      jsHeapTotalBytes: memory.heapTotal,
      externalBytes: memory.external,
      // The histogram holds the intervals between the monitor's timer firings in nanoseconds, so an idle loop
      // reads as the resolution itself: the lag is what exceeds it. With no sample yet its mean is NaN.
      ...(delay.count > 0 ? {
        eventLoopDelay: { meanSeconds: lagSeconds(delay.mean), p99Seconds: lagSeconds(delay.percentile(99)), maxSeconds: lagSeconds(delay.max) },
      } : {}),
    };
    delay.reset();
    return stats;
  }

  /** Stops the event-loop monitor. */
  close(): void {
    this.delay?.disable();
  }

  private startMonitor(): IntervalHistogram {
    if (!this.delay) {
      this.delay = monitorEventLoopDelay({ resolution: EVENT_LOOP_RESOLUTION_MS });
      this.delay.enable();
    }
    return this.delay;
  }
}

function lagSeconds(intervalNs: number): number {
  return Math.max(0, intervalNs / 1e6 - EVENT_LOOP_RESOLUTION_MS) / 1000;
}

function optional<K extends string>(key: K, value: number | undefined): { [P in K]?: number } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: number };
}

/** The `kB` fields of /proc/self/status, in bytes. */
function readStatus(): Record<string, number | undefined> {
  const fields: Record<string, number | undefined> = {};
  try {
    for (const line of readFileSync('/proc/self/status', 'utf8').split('\n')) {
      const match = /^(\w+):\s+(\d+) kB$/.exec(line);
      if (match) fields[match[1] as string] = Number(match[2]) * 1024;
    }
  } catch {
    // Not Linux, or /proc not mounted.
  }
  return fields;
}

function openFds(): number | undefined {
  try {
    // readdir opens the directory itself: one descriptor more than the process holds otherwise.
    return readdirSync('/proc/self/fd').length - 1;
  } catch {
    return undefined;
  }
}

function maxFds(): number | undefined {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((entry) => entry.startsWith('Max open files'));
    const soft = line?.split(/\s{2,}/)[1];
    return soft === undefined || soft === 'unlimited' ? undefined : Number(soft);
  } catch {
    return undefined;
  }
}
