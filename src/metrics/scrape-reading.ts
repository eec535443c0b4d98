/**
 * One reading of a source per scrape, shared by the consecutive families that render from it: the family
 * registered first (and so rendered first) calls `fresh()`, the ones after it `current()`. A source that walks
 * thousands of objects (the reconciler's view, a data path's counters) or reads /proc is then read once per
 * scrape, not once per family, and never between scrapes.
 */
export class ScrapeReading<T> {
  private value: T;

  constructor(
    private readonly read: () => T,
    initial: T,
  ) {
    this.value = initial;
  }

  /** Reads the source now (the first family of a scrape). */
  fresh(): T {
    this.value = this.read();
    return this.value;
  }

  /** The reading the first family of this scrape took. */
  current(): T {
    return this.value;
  }
}
