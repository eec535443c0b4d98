import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_SERIES_PER_FAMILY, MetricRegistry } from '../../src/metrics/metric-registry.js';
import { escapeHelp, escapeLabelValue, formatNumber, renderPrometheusText } from '../../src/metrics/prometheus-text.js';

describe('Prometheus text exposition 0.0.4', () => {
  it('renders HELP/TYPE, labels, histogram buckets (cumulative, +Inf), _sum and _count', () => {
    const registry = new MetricRegistry();
    const passes = registry.counter({ name: 'x_passes_total', help: 'Passes.', labelNames: ['result'] });
    const size = registry.gauge({ name: 'x_size', help: 'Size.' });
    const duration = registry.histogram({ name: 'x_duration_seconds', help: 'Duration.', labelNames: ['result'], buckets: [0.1, 1] });
    registry.counter({ name: 'x_untouched_total', help: 'Never incremented.' });
    passes.inc({ result: 'ok' });
    passes.inc({ result: 'ok' }, 2);
    passes.inc({ result: 'failed' });
    size.set({}, 42);
    size.add({}, -2);
    for (const value of [0.05, 0.1, 0.5, 3]) duration.observe({ result: 'ok' }, value);
    assert.equal(renderPrometheusText(registry.snapshot()), [
      '# HELP x_passes_total Passes.',
      '# TYPE x_passes_total counter',
      'x_passes_total{result="ok"} 3',
      'x_passes_total{result="failed"} 1',
      '# HELP x_size Size.',
      '# TYPE x_size gauge',
      'x_size 40',
      '# HELP x_duration_seconds Duration.',
      '# TYPE x_duration_seconds histogram',
      'x_duration_seconds_bucket{result="ok",le="0.1"} 2',
      'x_duration_seconds_bucket{result="ok",le="1"} 3',
      'x_duration_seconds_bucket{result="ok",le="+Inf"} 4',
      'x_duration_seconds_sum{result="ok"} 3.65',
      'x_duration_seconds_count{result="ok"} 4',
      '# HELP x_untouched_total Never incremented.',
      '# TYPE x_untouched_total counter',
      '',
    ].join('\n'));
  });

  const escapes: Array<[string, string, string]> = [
    ['plain', 'vxlan', 'vxlan'],
    ['backslash', 'a\\b', 'a\\\\b'],
    ['double quote', 'say "hi"', 'say \\"hi\\"'],
    ['line feed', 'two\nlines', 'two\\nlines'],
    ['all three', '\\"\n', '\\\\\\"\\n'],
  ];
  for (const [what, raw, escaped] of escapes) {
    it(`escapes a label value: ${what}`, () => {
      assert.equal(escapeLabelValue(raw), escaped);
      const registry = new MetricRegistry();
      registry.gauge({ name: 'g', help: 'h', labelNames: ['v'] }).set({ v: raw }, 1);
      assert.match(renderPrometheusText(registry.snapshot()), new RegExp(`^g\\{v="${escaped.replace(/[\\"]/g, (c) => `\\${c}`)}"\\} 1$`, 'm'));
    });
  }

  it('escapes HELP text (backslash and line feed; quotes stay)', () => {
    assert.equal(escapeHelp('a "b" \\ c\nd'), 'a "b" \\\\ c\\nd');
  });

  const numbers: Array<[number, string]> = [[0, '0'], [1, '1'], [0.005, '0.005'], [1e-7, '1e-7'], [1.5e21, '1.5e+21'], [Infinity, '+Inf'], [-Infinity, '-Inf'], [NaN, 'NaN'], [-3, '-3']];
  for (const [value, text] of numbers) it(`formats ${text}`, () => assert.equal(formatNumber(value), text));
});

describe('MetricRegistry', () => {
  it('refuses definitions the format cannot carry, at registration', () => {
    const registry = new MetricRegistry();
    registry.gauge({ name: 'ok_gauge', help: 'h' });
    const bad: Array<[string, () => unknown]> = [
      ['duplicate name', () => registry.gauge({ name: 'ok_gauge', help: 'h' })],
      ['invalid name', () => registry.gauge({ name: 'bad-name', help: 'h' })],
      ['counter without _total', () => registry.counter({ name: 'requests', help: 'h' })],
      ['reserved label', () => registry.gauge({ name: 'g2', help: 'h', labelNames: ['__x'] })],
      ['invalid label', () => registry.gauge({ name: 'g3', help: 'h', labelNames: ['a-b'] })],
      ['repeated label', () => registry.gauge({ name: 'g4', help: 'h', labelNames: ['a', 'a'] })],
      ['le on a histogram', () => registry.histogram({ name: 'h1', help: 'h', labelNames: ['le'], buckets: [1] })],
      ['unsorted buckets', () => registry.histogram({ name: 'h2', help: 'h', buckets: [1, 0.5] })],
      ['infinite bucket', () => registry.histogram({ name: 'h3', help: 'h', buckets: [1, Infinity] })],
      ['no buckets', () => registry.histogram({ name: 'h4', help: 'h', buckets: [] })],
    ];
    for (const [what, define] of bad) assert.throws(define, { code: 'METRIC_DEFINITION' }, what);
  });

  it('counters never go down (negative, NaN and infinite amounts are ignored)', () => {
    const registry = new MetricRegistry();
    const counter = registry.counter({ name: 'c_total', help: 'h' });
    counter.inc({}, 5);
    for (const amount of [-1, NaN, Infinity]) counter.inc({}, amount);
    assert.equal(registry.value('c_total'), 5);
  });

  it('caps the series of a family and counts what it dropped', () => {
    const registry = new MetricRegistry();
    const counter = registry.counter({ name: 'c_total', help: 'h', labelNames: ['k'] });
    for (let index = 0; index < MAX_SERIES_PER_FAMILY + 10; index++) counter.inc({ k: String(index) });
    const family = registry.snapshot()[0];
    assert.equal(family?.samples.length, MAX_SERIES_PER_FAMILY);
    assert.equal(registry.droppedSeries, 10);
  });

  it('leaves a family whose collector throws out of the scrape and counts it', () => {
    const registry = new MetricRegistry();
    registry.collected('gauge', { name: 'broken', help: 'h' }, () => {
      throw new Error('boom');
    });
    registry.collected('gauge', { name: 'fine', help: 'h', labelNames: ['k'] }, () => [{ labels: { k: 'v' }, value: 7 }]);
    const text = renderPrometheusText(registry.snapshot());
    assert.doesNotMatch(text, /broken/);
    assert.match(text, /^fine\{k="v"\} 7$/m);
    assert.equal(registry.collectFailures, 1);
  });

  it('puts an observation on a bound into that bucket (le is inclusive) and ignores NaN', () => {
    const registry = new MetricRegistry();
    const histogram = registry.histogram({ name: 'h', help: 'h', buckets: [1, 2] });
    histogram.observe({}, 1);
    histogram.observe({}, NaN);
    assert.deepEqual(registry.histogramValue('h')?.cumulative, [1, 1]);
    assert.equal(registry.histogramValue('h')?.count, 1);
  });
});
