/**
 * The metrics port: what a component needs to count, set and time things, and nothing about how they are
 * stored or shown. One sink is made at start-up and passed in (no globals, no default registry), so a test
 * gets a fresh sink of its own and two daemons in one process never share counters.
 *
 * Components do not call the sink directly: they call the typed catalogue (flannel-metrics.ts), which owns every
 * metric name, help text, label name and bucket layout in one place. The sink is what the catalogue is built on
 * (MetricRegistry implements it; the same registry is the in-memory sink tests read back).
 *
 * Labels are a fixed list of names per family; every value is a string from a small set (a kind, a result, a
 * reason), never a peer, an address or an error message: a family refuses new series past its cap rather than
 * growing without bound (see MetricRegistry).
 */

/** Label values of a family whose label names are `L`. */
export type LabelValues<L extends string> = { readonly [K in L]: string };

export interface MetricSpec<L extends string> {
  /** `[a-zA-Z_:][a-zA-Z0-9_:]*`; counters end in `_total`, units are base units (`_seconds`, `_bytes`). */
  readonly name: string;
  readonly help: string;
  readonly labelNames?: readonly L[];
}

export interface HistogramSpec<L extends string> extends MetricSpec<L> {
  /** Upper bounds, strictly increasing, finite; `+Inf` is implied. */
  readonly buckets: readonly number[];
}

export interface CounterFamily<L extends string> {
  /** Adds `amount` (default 1, must be ≥ 0: a negative or non-finite amount is ignored, counters never go down). */
  inc(labels: LabelValues<L>, amount?: number): void;
}

export interface GaugeFamily<L extends string> {
  set(labels: LabelValues<L>, value: number): void;
  /** Adds `amount` (may be negative). */
  add(labels: LabelValues<L>, amount: number): void;
}

export interface HistogramFamily<L extends string> {
  /** Counts one observation (NaN is ignored). */
  observe(labels: LabelValues<L>, value: number): void;
}

/** One value computed at scrape time. */
export interface CollectedSample<L extends string> {
  readonly labels: LabelValues<L>;
  readonly value: number;
}

export interface MetricsSink {
  counter<L extends string = never>(spec: MetricSpec<L>): CounterFamily<L>;
  gauge<L extends string = never>(spec: MetricSpec<L>): GaugeFamily<L>;
  histogram<L extends string = never>(spec: HistogramSpec<L>): HistogramFamily<L>;
  /**
   * A family whose values are read when the metrics are rendered (process CPU, data-path counters kept by a
   * worker, a table's size): `collect` must be cheap and synchronous. A collect that throws leaves its family
   * out of that scrape (and is counted), never the whole page.
   */
  collected<L extends string = never>(type: 'counter' | 'gauge', spec: MetricSpec<L>, collect: () => Iterable<CollectedSample<L>>): void;
}
