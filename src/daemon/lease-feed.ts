/**
 * The daemon's LeaseFeed for a backend's data path: our lease and the admitted peers, and a coalescing stream of
 * changes. The daemon calls `changed()` whenever either changes; consumers of `changes()` wake once per burst
 * and read the latest snapshot (built lazily by `snapshot`), so a slow data path never sees a backlog.
 */
import type { LeaseFeed, LeaseSnapshot } from '../backend/data-path.js';

export class DaemonLeaseFeed implements LeaseFeed {
  private version = 0;
  private readonly waiters = new Set<() => void>();

  constructor(private readonly snapshot: () => LeaseSnapshot) {}

  current(): LeaseSnapshot {
    return this.snapshot();
  }

  /** Our lease or the admitted peers changed. */
  changed(): void {
    this.version++;
    for (const wake of [...this.waiters]) wake();
  }

  async *changes(signal: AbortSignal): AsyncIterable<LeaseSnapshot> {
    let seen = -1;
    while (!signal.aborted) {
      if (seen !== this.version) {
        seen = this.version;
        yield this.current();
        continue;
      }
      await new Promise<void>((resolve) => {
        const wake = () => {
          this.waiters.delete(wake);
          signal.removeEventListener('abort', wake);
          resolve();
        };
        this.waiters.add(wake);
        signal.addEventListener('abort', wake, { once: true });
      });
    }
  }
}
