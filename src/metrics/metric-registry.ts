/**
 * MetricRegistry: the in-memory MetricsSink. It keeps every family's series and hands out snapshots (typed
 * data, for the Prometheus renderer, `flannelctl status` and tests); it does no I/O and reads no clock.
 *
 * Costs are what a per-node daemon can pay: a series is one array slot found through a string key made from its
 * label values; a histogram observation is a linear scan over a dozen bounds. Registering a family twice, or a
 * name or label the exposition format cannot carry, is a programming error and throws at start-up
 * (FlannelError 'METRIC_DEFINITION'); nothing that happens at run time throws: a series past a family's cap
 * (MAX_SERIES_PER_FAMILY) is dropped and counted in `droppedSeries`, a collect callback that throws is counted
 * in `collectFailures` and its family is left out of that snapshot.
 */
import { FlannelError } from '../support/errors.js';
import type {
  CollectedSample, CounterFamily, GaugeFamily, HistogramFamily, HistogramSpec, LabelValues, MetricSpec, MetricsSink,
} from './metrics-sink.js';

export type MetricType = 'counter' | 'gauge' | 'histogram';

/** Label pairs in the family's label-name order. */
export type LabelPairs = ReadonlyArray<readonly [string, string]>;

export interface ScalarSample {
  readonly labels: LabelPairs;
  readonly value: number;
}

export interface HistogramSample {
  readonly labels: LabelPairs;
  /** Upper bounds, without +Inf. */
  readonly bounds: readonly number[];
  /** Cumulative counts per bound (observations ≤ bound), same length as `bounds`. */
  readonly cumulative: readonly number[];
  readonly sum: number;
  readonly count: number;
}

export type FamilySnapshot =
  | { readonly type: 'counter' | 'gauge'; readonly name: string; readonly help: string; readonly samples: readonly ScalarSample[] }
  | { readonly type: 'histogram'; readonly name: string; readonly help: string; readonly samples: readonly HistogramSample[] };

/** A family never holds more series than this: labels come from small fixed sets, so more means a bug. */
export const MAX_SERIES_PER_FAMILY = 500;

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

interface Series<V> {
  readonly labels: LabelPairs;
  value: V;
}

interface HistogramValue {
  readonly counts: number[];
  sum: number;
  count: number;
}

interface Family {
  readonly type: MetricType;
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  snapshot(): FamilySnapshot;
}

export class MetricRegistry implements MetricsSink {
  private readonly families: Family[] = [];
  private readonly names = new Set<string>();
  /** Updates refused because a family reached MAX_SERIES_PER_FAMILY. */
  droppedSeries = 0;
  /** Collect callbacks that threw. */
  collectFailures = 0;

  counter<L extends string = never>(spec: MetricSpec<L>): CounterFamily<L> {
    const series = this.scalarFamily('counter', spec);
    return {
      inc: (labels, amount = 1) => {
        if (!(amount >= 0) || amount === Infinity) return;
        const entry = series(labels);
        if (entry) entry.value += amount;
      },
    };
  }

  gauge<L extends string = never>(spec: MetricSpec<L>): GaugeFamily<L> {
    const series = this.scalarFamily('gauge', spec);
    return {
      set: (labels, value) => {
        const entry = series(labels);
        if (entry) entry.value = value;
      },
      add: (labels, amount) => {
        const entry = series(labels);
        if (entry) entry.value += amount;
      },
    };
  }

  histogram<L extends string = never>(spec: HistogramSpec<L>): HistogramFamily<L> {
    const bounds = [...spec.buckets];
    if (bounds.length === 0 || bounds.some((bound, index) => !Number.isFinite(bound) || (index > 0 && bound <= (bounds[index - 1] as number)))) {
      throw new FlannelError('METRIC_DEFINITION', `${spec.name}: buckets must be finite and strictly increasing, got ${JSON.stringify(spec.buckets)}`);
    }
    const labelNames = this.define(spec, 'histogram');
    if (labelNames.includes('le')) throw new FlannelError('METRIC_DEFINITION', `${spec.name}: "le" is reserved for histogram buckets`);
    const table = new SeriesTable<HistogramValue>(labelNames, () => ({ counts: new Array<number>(bounds.length).fill(0), sum: 0, count: 0 }), this);
    this.families.push({
      type: 'histogram', name: spec.name, help: spec.help, labelNames,
      snapshot: () => ({
        type: 'histogram', name: spec.name, help: spec.help,
        samples: table.all().map(({ labels, value }) => {
          let running = 0;
          return { labels, bounds, cumulative: value.counts.map((count) => (running += count)), sum: value.sum, count: value.count };
        }),
      }),
    });
    return {
      observe: (labels, value) => {
        if (Number.isNaN(value)) return;
        const entry = table.get(labels as Record<string, string>);
        if (!entry) return;
        const bucket = bounds.findIndex((bound) => value <= bound);
        if (bucket >= 0) (entry.value.counts[bucket] as number)++;
        entry.value.sum += value;
        entry.value.count++;
      },
    };
  }

  collected<L extends string = never>(type: 'counter' | 'gauge', spec: MetricSpec<L>, collect: () => Iterable<CollectedSample<L>>): void {
    const labelNames = this.define(spec, type);
    this.families.push({
      type, name: spec.name, help: spec.help, labelNames,
      snapshot: () => {
        const samples: ScalarSample[] = [];
        for (const sample of collect()) {
          if (samples.length >= MAX_SERIES_PER_FAMILY) {
            this.droppedSeries++;
            break;
          }
          samples.push({ labels: labelNames.map((name) => [name, String((sample.labels as Record<string, string>)[name] ?? '')] as const), value: sample.value });
        }
        return { type, name: spec.name, help: spec.help, samples };
      },
    });
  }

  /** Every family as data, in registration order; a family whose collect throws is left out (and counted). */
  snapshot(): FamilySnapshot[] {
    const snapshots: FamilySnapshot[] = [];
    for (const family of this.families) {
      try {
        snapshots.push(family.snapshot());
      } catch {
        this.collectFailures++;
      }
    }
    return snapshots;
  }

  /** The value of one counter or gauge series (undefined when it has none yet): for tests and `flannelctl status`. */
  value(name: string, labels: Readonly<Record<string, string>> = {}): number | undefined {
    const family = this.snapshot().find((candidate) => candidate.name === name);
    if (!family || family.type === 'histogram') return undefined;
    return family.samples.find((sample) => sample.labels.every(([key, value]) => labels[key] === value))?.value;
  }

  /** One histogram series (undefined when it has none yet). */
  histogramValue(name: string, labels: Readonly<Record<string, string>> = {}): HistogramSample | undefined {
    const family = this.snapshot().find((candidate) => candidate.name === name);
    if (!family || family.type !== 'histogram') return undefined;
    return family.samples.find((sample) => sample.labels.every(([key, value]) => labels[key] === value));
  }

  private scalarFamily<L extends string>(type: 'counter' | 'gauge', spec: MetricSpec<L>): (labels: LabelValues<L>) => Series<number> | undefined {
    const labelNames = this.define(spec, type);
    const table = new SeriesTable<number>(labelNames, () => 0, this);
    this.families.push({
      type, name: spec.name, help: spec.help, labelNames,
      snapshot: () => ({ type, name: spec.name, help: spec.help, samples: table.all().map(({ labels, value }) => ({ labels, value })) }),
    });
    return (labels) => table.get(labels as Record<string, string>);
  }

  private define(spec: MetricSpec<string>, type: MetricType): readonly string[] {
    if (!METRIC_NAME.test(spec.name)) throw new FlannelError('METRIC_DEFINITION', `invalid metric name ${JSON.stringify(spec.name)}`);
    if (this.names.has(spec.name)) throw new FlannelError('METRIC_DEFINITION', `metric ${spec.name} is registered twice`);
    if (type === 'counter' && !spec.name.endsWith('_total')) throw new FlannelError('METRIC_DEFINITION', `counter ${spec.name} must end in _total`);
    const labelNames = [...(spec.labelNames ?? [])];
    for (const label of labelNames) {
      if (!LABEL_NAME.test(label) || label.startsWith('__')) throw new FlannelError('METRIC_DEFINITION', `${spec.name}: invalid label name ${JSON.stringify(label)}`);
    }
    if (new Set(labelNames).size !== labelNames.length) throw new FlannelError('METRIC_DEFINITION', `${spec.name}: a label name appears twice`);
    this.names.add(spec.name);
    return labelNames;
  }
}

/** The series of one family, keyed by their label values; created on first use, up to the cap. */
class SeriesTable<V> {
  private readonly series = new Map<string, Series<V>>();

  constructor(
    private readonly labelNames: readonly string[],
    private readonly initial: () => V,
    private readonly owner: { droppedSeries: number },
  ) {}

  get(labels: Readonly<Record<string, string>>): Series<V> | undefined {
    // A family without labels has exactly one series; skip building a key for it.
    const key = this.labelNames.length === 0 ? '' : this.labelNames.map((name) => labels[name] ?? '').join('\u0000');
    let entry = this.series.get(key);
    if (entry) return entry;
    if (this.series.size >= MAX_SERIES_PER_FAMILY) {
      this.owner.droppedSeries++;
      return undefined;
    }
    entry = { labels: this.labelNames.map((name) => [name, String(labels[name] ?? '')] as const), value: this.initial() };
    this.series.set(key, entry);
    return entry;
  }

  all(): Array<Series<V>> {
    return [...this.series.values()];
  }
}
