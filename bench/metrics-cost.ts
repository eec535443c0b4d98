/**
 * What metrics cost a flanneld process: our hand-written registry (src/metrics) against prom-client 15, side by
 * side in alternated rounds. Each round starts three fresh Node processes: a baseline that only boots, one that
 * sets up our metrics (catalogue + process metrics, every family touched with the series a busy vxlan host has)
 * and one that sets up the same families in prom-client (custom Registry + collectDefaultMetrics, as its README
 * recommends). Each reports the time to import and set up, RSS after a forced GC (minus the baseline's), heap
 * used (both after one scrape and a forced GC), and the median time of one scrape (render of the whole page).
 *
 * prom-client is not a dependency of flannel-ts: install it anywhere and point PROM_CLIENT_DIR at that folder
 * (`npm --prefix /tmp/pc install prom-client@15.1.3`, then PROM_CLIENT_DIR=/tmp/pc); without it only our numbers
 * are printed. Run after `npm run build`: node dist/bench/metrics-cost.js [--rounds 9].
 * Writes bench/results/metrics-cost.json.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

type Variant = 'baseline' | 'ours' | 'prom-client';
interface Sample {
  readonly setupMs: number;
  readonly rssBytes: number;
  readonly heapUsedBytes: number;
  readonly renderUs: number;
  readonly pageBytes: number;
  readonly families: number;
}

const KINDS = ['link', 'address', 'route', 'neigh', 'fdb'];

/** The part of prom-client's API used here (it is not a dependency, so its types are not available). */
interface PromMetric {
  inc(labels?: Record<string, string> | number, amount?: number): void;
  set(labels: Record<string, string> | number, value?: number): void;
  observe(labels: Record<string, string> | number, value?: number): void;
}
interface PromClient {
  Registry: new () => { metrics(): Promise<string>; getMetricsAsArray(): unknown[] };
  collectDefaultMetrics(options: { register: unknown }): void;
  Counter: new (options: Record<string, unknown>) => PromMetric;
  Gauge: new (options: Record<string, unknown>) => PromMetric;
  Histogram: new (options: Record<string, unknown>) => PromMetric;
}

/** The series a busy host has: every kernel kind, a few results/reasons, registry ops, one histogram each. */
async function setUpOurs(): Promise<{ render: () => string; families: () => number }> {
  const { createMetricsService } = await import('../src/metrics/metrics-service.js');
  const { ProcProcessStats } = await import('../src/adapters/process/proc-process-stats.js');
  const service = createMetricsService({ version: '0.1.0', processStats: new ProcProcessStats() });
  const { metrics } = service;
  for (let pass = 0; pass < 100; pass++) {
    metrics.reconcile.observePass({ result: pass % 10 === 0 ? 'failed' : 'ok', durationSeconds: pass / 1000, writes: { route: 3, neigh: 3, fdb: 3 }, endedAtMs: Date.now() });
  }
  for (const kind of KINDS) metrics.reconcile.driftRepaired(kind as 'route');
  const count = (value: number) => ({ desired: value, programmed: value });
  metrics.reconcile.collectObjects(() => ({ link: count(1), address: count(1), route: count(5000), neigh: count(5000), fdb: count(5000) }));
  for (const type of ['added', 'changed', 'removed'] as const) metrics.leases.event(type, 10);
  for (let index = 0; index < 100; index++) metrics.leases.observeDataplaneLatency(index / 500);
  for (const op of ['get_config', 'list', 'watch', 'create', 'renew'] as const) metrics.registry.request('etcd', op, 0.002, op === 'renew' ? 'timeout' : undefined);
  metrics.registry.watchRestart('etcd', 'compacted');
  metrics.firewall.written('iptables', 4, 'start');
  metrics.datapath.probes.probed('ok', 0.0004);
  return { render: service.render, families: () => service.registry.snapshot().length };
}

async function setUpPromClient(directory: string): Promise<{ render: () => Promise<string>; families: () => number }> {
  const client = createRequire(join(directory, 'package.json'))('prom-client') as PromClient;
  const register = new client.Registry();
  client.collectDefaultMetrics({ register });
  const counter = (name: string, labelNames: string[] = []) => new client.Counter({ name, help: name, labelNames, registers: [register] });
  const gauge = (name: string, labelNames: string[] = []) => new client.Gauge({ name, help: name, labelNames, registers: [register] });
  const histogram = (name: string, buckets: number[], labelNames: string[] = []) => new client.Histogram({ name, help: name, labelNames, buckets, registers: [register] });
  const passes = counter('flannel_reconcile_passes_total', ['result']);
  const duration = histogram('flannel_reconcile_duration_seconds', [0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2.5, 5], ['result']);
  const writes = counter('flannel_kernel_writes_total', ['kind']);
  counter('flannel_kernel_write_failures_total', ['kind']);
  const drift = counter('flannel_drift_repairs_total', ['kind']);
  const objects = gauge('flannel_kernel_objects', ['kind']);
  const desired = gauge('flannel_kernel_objects_desired', ['kind']);
  gauge('flannel_reconcile_last_success_timestamp_seconds').set(Date.now() / 1000);
  counter('flannel_kernel_notification_overflows_total');
  const events = counter('flannel_lease_events_total', ['type']);
  gauge('flannel_peers').set(5000);
  gauge('flannel_leases_rejected').set(0);
  counter('flannel_lease_rejections_total', ['field']);
  const latency = histogram('flannel_lease_to_dataplane_seconds', [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]);
  counter('flannel_lease_renewals_total', ['result']);
  gauge('flannel_lease_expiry_timestamp_seconds');
  const registryDuration = histogram('flannel_registry_request_duration_seconds', [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], ['registry', 'op']);
  const registryErrors = counter('flannel_registry_request_errors_total', ['registry', 'op', 'error']);
  counter('flannel_watch_restarts_total', ['registry', 'reason']).inc({ registry: 'etcd', reason: 'compacted' });
  counter('flannel_firewall_writes_total', ['mode', 'family', 'reason']).inc({ mode: 'iptables', family: '4', reason: 'start' });
  counter('flannel_firewall_write_failures_total', ['mode']);
  for (const name of ['flannel_udp_packets_total', 'flannel_udp_bytes_total', 'flannel_udp_dropped_packets_total', 'flannel_udp_icmp_unreachable_sent_total',
    'flannel_wireguard_transfer_bytes_total', 'flannel_peer_probes_total', 'flannel_metrics_dropped_series_total', 'flannel_metrics_collect_failures_total']) counter(name, ['label']);
  for (const name of ['flannel_wireguard_peers', 'flannel_wireguard_peers_recent_handshake', 'flannel_wireguard_oldest_handshake_age_seconds',
    'flannel_wireguard_last_handshake_age_seconds', 'flannel_peers_unreachable', 'flannel_peers_probed', 'flannel_ready']) gauge(name);
  gauge('flannel_build_info', ['version']).set({ version: '0.1.0' }, 1);
  histogram('flannel_peer_probe_rtt_seconds', [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1]).observe(0.0004);
  for (let pass = 0; pass < 100; pass++) {
    const result = pass % 10 === 0 ? 'failed' : 'ok';
    passes.inc({ result });
    duration.observe({ result }, pass / 1000);
    for (const kind of ['route', 'neigh', 'fdb']) writes.inc({ kind }, 3);
  }
  for (const kind of KINDS) {
    drift.inc({ kind });
    objects.set({ kind }, 5000);
    desired.set({ kind }, 5000);
  }
  for (const type of ['added', 'changed', 'removed']) events.inc({ type }, 10);
  for (let index = 0; index < 100; index++) latency.observe(index / 500);
  for (const op of ['get_config', 'list', 'watch', 'create', 'renew']) {
    registryDuration.observe({ registry: 'etcd', op }, 0.002);
    if (op === 'renew') registryErrors.inc({ registry: 'etcd', op, error: 'timeout' });
  }
  return { render: () => register.metrics(), families: () => register.getMetricsAsArray().length };
}

async function child(variant: Variant): Promise<void> {
  const started = performance.now();
  let render: () => string | Promise<string> = () => '';
  let families = () => 0;
  if (variant === 'ours') ({ render, families } = await setUpOurs());
  if (variant === 'prom-client') ({ render, families } = await setUpPromClient(process.env.PROM_CLIENT_DIR as string));
  let page = await render();
  const setupMs = performance.now() - started;
  // Memory as a daemon holds it between scrapes: set up, scraped once, collected. (A tight loop of renders
  // would measure the heap's high-water mark from garbage instead, which a scrape every 15 s never reaches.)
  (globalThis as { gc?: () => void }).gc?.();
  await new Promise((resolve) => setTimeout(resolve, 50));
  (globalThis as { gc?: () => void }).gc?.();
  const memory = process.memoryUsage();
  const times: number[] = [];
  for (let index = 0; index < 200; index++) {
    const begin = performance.now();
    page = await render();
    times.push((performance.now() - begin) * 1000);
  }
  const sample: Sample = { setupMs, rssBytes: memory.rss, heapUsedBytes: memory.heapUsed, renderUs: median(times), pageBytes: Buffer.byteLength(page), families: families() };
  process.stdout.write(JSON.stringify(sample));
  process.exit(0);
}

const median = (list: number[]) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)] as number;
const spread = (list: number[], digits = 1) => `${Math.min(...list).toFixed(digits)}–${Math.max(...list).toFixed(digits)}`;

function runChild(variant: Variant): Sample {
  // The flags flanneld runs with (its shebang), so RSS is what a host pays.
  const result = spawnSync(process.execPath, ['--max-semi-space-size=2', '--expose-gc', fileURLToPath(import.meta.url), `--child=${variant}`], { encoding: 'utf8', env: process.env });
  if (result.status !== 0) throw new Error(`${variant} child failed: ${result.stderr}`);
  return JSON.parse(result.stdout) as Sample;
}

async function main(): Promise<void> {
  const childArg = process.argv.find((arg) => arg.startsWith('--child='));
  if (childArg) return child(childArg.slice('--child='.length) as Variant);
  const roundsIndex = process.argv.indexOf('--rounds');
  const rounds = roundsIndex > 0 ? Number(process.argv[roundsIndex + 1]) : 9;
  const variants: Variant[] = process.env.PROM_CLIENT_DIR ? ['baseline', 'ours', 'prom-client'] : ['baseline', 'ours'];
  if (!process.env.PROM_CLIENT_DIR) console.log('PROM_CLIENT_DIR not set: measuring ours only (see the file comment to compare with prom-client)');
  const samples = new Map<Variant, Sample[]>(variants.map((variant) => [variant, []]));
  for (let round = 0; round < rounds; round++) {
    // Alternate the order so that neither variant always runs on a warmer machine.
    const order = round % 2 === 0 ? variants : [...variants].reverse();
    for (const variant of order) samples.get(variant)?.push(runChild(variant));
  }
  const baseline = samples.get('baseline') as Sample[];
  const summary: Record<string, unknown> = { rounds };
  for (const variant of variants.filter((name) => name !== 'baseline')) {
    const list = samples.get(variant) as Sample[];
    const extraRssMb = list.map((sample, index) => (sample.rssBytes - (baseline[index] as Sample).rssBytes) / 1048576);
    const extraSetupMs = list.map((sample, index) => sample.setupMs - (baseline[index] as Sample).setupMs);
    const heapMb = list.map((sample) => sample.heapUsedBytes / 1048576);
    const renderUs = list.map((sample) => sample.renderUs);
    summary[variant] = {
      extraRssMb: { median: median(extraRssMb), spread: spread(extraRssMb) },
      setupMs: { median: median(extraSetupMs), spread: spread(extraSetupMs) },
      heapUsedMb: { median: median(heapMb), spread: spread(heapMb) },
      scrapeUs: { median: median(renderUs), spread: spread(renderUs, 0) },
      pageBytes: (list[0] as Sample).pageBytes,
      families: (list[0] as Sample).families,
    };
    console.log(`${variant.padEnd(12)} set-up ${median(extraSetupMs).toFixed(1)} ms (spread ${spread(extraSetupMs)}), RSS +${median(extraRssMb).toFixed(1)} MB over a bare node (spread ${spread(extraRssMb)}), heap used ${median(heapMb).toFixed(1)} MB, one scrape ${median(renderUs).toFixed(0)} µs (spread ${spread(renderUs, 0)}), ${(list[0] as Sample).families} families, ${(list[0] as Sample).pageBytes} bytes`);
  }
  if (samples.has('prom-client')) {
    const ours = samples.get('ours') as Sample[];
    const theirs = samples.get('prom-client') as Sample[];
    const rssRatio = ours.map((sample, index) => ((theirs[index] as Sample).rssBytes - (baseline[index] as Sample).rssBytes) / Math.max(1, sample.rssBytes - (baseline[index] as Sample).rssBytes));
    const setupRatio = ours.map((sample, index) => ((theirs[index] as Sample).setupMs - (baseline[index] as Sample).setupMs) / Math.max(0.1, sample.setupMs - (baseline[index] as Sample).setupMs));
    summary.ratios = { promClientToOursExtraRss: { median: median(rssRatio), spread: spread(rssRatio, 2) }, promClientToOursSetup: { median: median(setupRatio), spread: spread(setupRatio, 2) } };
    console.log(`prom-client / ours, same round: extra RSS ×${median(rssRatio).toFixed(2)} (spread ${spread(rssRatio, 2)}), set-up ×${median(setupRatio).toFixed(2)} (spread ${spread(setupRatio, 2)})`);
  }
  const directory = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', 'bench', 'results');
  mkdirSync(directory, { recursive: true });
  writeFileSync(join(directory, 'metrics-cost.json'), JSON.stringify(summary, null, 2) + '\n');
}

await main();
