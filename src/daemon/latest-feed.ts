/**
 * A Feed (data-path.ts) of a value the daemon owns: `current()` computes it on demand, `changed()` says it may
 * differ now, and consumers of `changes()` wake once per burst of changes and read the latest value, so a slow
 * consumer (a data path busy with packets) never sees a backlog. Used for the lease snapshot and the devices
 * present that a backend's data path follows.
 */
import type { Feed } from '../backend/data-path.js';
import { whenAborted } from '../support/timing.js';

export class LatestFeed<T> implements Feed<T> {
  private version = 0;
  private readonly waiters = new Set<() => void>();

  constructor(private readonly value: () => T) {}

  current(): T {
    return this.value();
  }

  /** The value may have changed. */
  changed(): void {
    this.version++;
    for (const wake of [...this.waiters]) wake();
  }

  async *changes(signal: AbortSignal): AsyncIterable<T> {
    let seen = -1;
    while (!signal.aborted) {
      if (seen !== this.version) {
        seen = this.version;
        yield this.current();
        continue;
      }
      await new Promise<void>((resolve) => {
        let detach = (): void => undefined;
        const wake = () => {
          this.waiters.delete(wake);
          detach();
          resolve();
        };
        this.waiters.add(wake);
        detach = whenAborted(signal, wake);
      });
    }
  }
}
