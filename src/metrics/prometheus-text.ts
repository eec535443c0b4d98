/**
 * Prometheus text exposition format 0.0.4 (prometheus.io/docs/instrumenting/exposition_formats), pure:
 * - per family `# HELP name text` (backslash and line feed escaped) and `# TYPE name counter|gauge|histogram`,
 *   then its samples; a family without samples still gets its HELP and TYPE lines (what scrapers expect of a
 *   metric that exists but has not been touched);
 * - label values escape backslash, double quote and line feed;
 * - a histogram renders `name_bucket{…,le="bound"}` cumulatively, ending with `le="+Inf"` (= count), then
 *   `name_sum` and `name_count`;
 * - numbers as Go's client writes them where it matters to a parser: `+Inf`, `-Inf`, `NaN`; other values in
 *   JavaScript's shortest round-trip form (which Prometheus' float parser reads);
 * - lines end with `\n`, the page too. No timestamps: the scrape time is the sample time.
 */
import type { FamilySnapshot, LabelPairs } from './metric-registry.js';

/** The Content-Type of a page rendered by renderPrometheusText. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export function renderPrometheusText(families: readonly FamilySnapshot[]): string {
  const lines: string[] = [];
  for (const family of families) {
    lines.push(`# HELP ${family.name} ${escapeHelp(family.help)}`, `# TYPE ${family.name} ${family.type}`);
    if (family.type === 'histogram') {
      for (const sample of family.samples) {
        sample.bounds.forEach((bound, index) => {
          lines.push(`${family.name}_bucket${renderLabels(sample.labels, ['le', formatNumber(bound)])} ${formatNumber(sample.cumulative[index] as number)}`);
        });
        lines.push(`${family.name}_bucket${renderLabels(sample.labels, ['le', '+Inf'])} ${formatNumber(sample.count)}`);
        lines.push(`${family.name}_sum${renderLabels(sample.labels)} ${formatNumber(sample.sum)}`);
        lines.push(`${family.name}_count${renderLabels(sample.labels)} ${formatNumber(sample.count)}`);
      }
    } else {
      for (const sample of family.samples) lines.push(`${family.name}${renderLabels(sample.labels)} ${formatNumber(sample.value)}`);
    }
  }
  return lines.length === 0 ? '' : lines.join('\n') + '\n';
}

export function formatNumber(value: number): string {
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  if (Number.isNaN(value)) return 'NaN';
  return String(value);
}

function renderLabels(labels: LabelPairs, extra?: readonly [string, string]): string {
  const pairs = extra ? [...labels, extra] : labels;
  if (pairs.length === 0) return '';
  return `{${pairs.map(([name, value]) => `${name}="${escapeLabelValue(value)}"`).join(',')}}`;
}

export function escapeLabelValue(value: string): string {
  return value.replace(/[\\"\n]/g, (char) => (char === '\n' ? '\\n' : `\\${char}`));
}

export function escapeHelp(text: string): string {
  return text.replace(/[\\\n]/g, (char) => (char === '\n' ? '\\n' : '\\\\'));
}
