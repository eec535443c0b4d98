/**
 * One process's metrics: a MetricRegistry (the sink), flannel's catalogue on it, process metrics when a source
 * is given, and the page renderer. flanneld makes one at start-up and hands `metrics` to the components and
 * `render` to the HTTP endpoints; a test makes one without a process source and reads values back through
 * `registry.value(…)` (the in-memory sink).
 */
import { type FlannelMetrics, createFlannelMetrics } from './flannel-metrics.js';
import { MetricRegistry } from './metric-registry.js';
import { type ProcessStatsSource, registerProcessMetrics } from './process-metrics.js';
import { renderPrometheusText } from './prometheus-text.js';

export interface MetricsService {
  readonly metrics: FlannelMetrics;
  readonly registry: MetricRegistry;
  /** The Prometheus text page (format 0.0.4) of every family, read now. */
  render(): string;
}

export function createMetricsService(options: { version: string; processStats?: ProcessStatsSource }): MetricsService {
  const registry = new MetricRegistry();
  if (options.processStats) registerProcessMetrics(registry, options.processStats);
  const metrics = createFlannelMetrics(registry, { version: options.version });
  // The registry's own troubles, so that a dropped series or a failing collector is visible where it matters.
  registry.collected('counter', { name: 'flannel_metrics_dropped_series_total', help: 'Metric updates refused because a family reached its series cap.' },
    () => [{ labels: {}, value: registry.droppedSeries }]);
  registry.collected('counter', { name: 'flannel_metrics_collect_failures_total', help: 'Scrape-time collectors that failed (their family was left out of that scrape).' },
    () => [{ labels: {}, value: registry.collectFailures }]);
  return { metrics, registry, render: () => renderPrometheusText(registry.snapshot()) };
}
