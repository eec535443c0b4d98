/**
 * Process metrics under the names Prometheus' client libraries share (client_golang's process collector,
 * prom-client's defaults), so existing dashboards and alerts work: `process_cpu_seconds_total`,
 * `process_resident_memory_bytes`, `process_open_fds`, `process_start_time_seconds`… plus the Node.js runtime's
 * heap and event-loop delay under prom-client's `nodejs_` names. Values are read at scrape time from a
 * ProcessStatsSource (the /proc adapter in production), so an idle daemon spends nothing on them between scrapes.
 */
import type { MetricsSink } from './metrics-sink.js';
import { ScrapeReading } from './scrape-reading.js';

/** One reading of the process; a field the platform cannot give is undefined (its family then has no sample). */
export interface ProcessStats {
  readonly cpuUserSeconds: number;
  readonly cpuSystemSeconds: number;
  readonly residentBytes: number;
  readonly virtualBytes?: number;
  /** The data segment (VmData), as client_golang's and prom-client's process_heap_bytes. */
  readonly heapBytes?: number;
  readonly openFds?: number;
  readonly maxFds?: number;
  readonly startTimeSeconds: number;
  readonly jsHeapUsedBytes: number;
  readonly jsHeapTotalBytes: number;
  readonly externalBytes: number;
  /** Event-loop delay since the previous reading (seconds); undefined before any was measured. */
  readonly eventLoopDelay?: { readonly meanSeconds: number; readonly p99Seconds: number; readonly maxSeconds: number };
}

export interface ProcessStatsSource {
  read(): ProcessStats;
}

export function registerProcessMetrics(sink: MetricsSink, source: ProcessStatsSource): void {
  // One reading per scrape serves every family below.
  const reading = new ScrapeReading<ProcessStats | undefined>(() => source.read(), undefined);
  const families: Array<[type: 'counter' | 'gauge', name: string, help: string, pick: (stats: ProcessStats) => number | undefined]> = [
    ['counter', 'process_cpu_user_seconds_total', 'User CPU time spent in seconds.', (s) => s.cpuUserSeconds],
    ['counter', 'process_cpu_system_seconds_total', 'System CPU time spent in seconds.', (s) => s.cpuSystemSeconds],
    ['counter', 'process_cpu_seconds_total', 'Total user and system CPU time spent in seconds.', (s) => s.cpuUserSeconds + s.cpuSystemSeconds],
    ['gauge', 'process_start_time_seconds', 'Start time of the process since unix epoch in seconds.', (s) => s.startTimeSeconds],
    ['gauge', 'process_resident_memory_bytes', 'Resident memory size in bytes.', (s) => s.residentBytes],
    ['gauge', 'process_virtual_memory_bytes', 'Virtual memory size in bytes.', (s) => s.virtualBytes],
    ['gauge', 'process_heap_bytes', 'Process heap size in bytes.', (s) => s.heapBytes],
    ['gauge', 'process_open_fds', 'Number of open file descriptors.', (s) => s.openFds],
    ['gauge', 'process_max_fds', 'Maximum number of open file descriptors.', (s) => s.maxFds],
    ['gauge', 'nodejs_heap_size_used_bytes', 'Process heap size used from Node.js in bytes.', (s) => s.jsHeapUsedBytes],
    ['gauge', 'nodejs_heap_size_total_bytes', 'Process heap size from Node.js in bytes.', (s) => s.jsHeapTotalBytes],
    ['gauge', 'nodejs_external_memory_bytes', 'Node.js external memory size in bytes.', (s) => s.externalBytes],
    ['gauge', 'nodejs_eventloop_lag_mean_seconds', 'Mean event loop lag (delay beyond the monitor\'s timer resolution) since the previous scrape.', (s) => s.eventLoopDelay?.meanSeconds],
    ['gauge', 'nodejs_eventloop_lag_p99_seconds', 'The 99th percentile of the recorded event loop delays since the previous scrape.', (s) => s.eventLoopDelay?.p99Seconds],
    ['gauge', 'nodejs_eventloop_lag_max_seconds', 'The maximum recorded event loop delay since the previous scrape.', (s) => s.eventLoopDelay?.maxSeconds],
  ];
  families.forEach(([type, name, help, pick], index) => {
    sink.collected(type, { name, help }, () => {
      const stats = (index === 0 ? reading.fresh() : reading.current()) ?? reading.fresh();
      const value = stats === undefined ? undefined : pick(stats);
      return value === undefined || Number.isNaN(value) ? [] : [{ labels: {}, value }];
    });
  });
}
