/** A Clock for tests: time stands still until `advance` moves it, firing due sleeps in order. */
import type { Clock } from '../../src/support/clock.js';

interface Timer {
  readonly atMs: number;
  readonly resolve: () => void;
}

export class FakeClock implements Clock {
  private nowMs: number;
  private readonly timers = new Set<Timer>();

  constructor(startMs = 1_700_000_000_000) {
    this.nowMs = startMs;
  }

  now(): number {
    return this.nowMs;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const timer: Timer = {
        atMs: this.nowMs + Math.max(0, ms),
        resolve: () => {
          this.timers.delete(timer);
          signal?.removeEventListener('abort', timer.resolve);
          resolve();
        },
      };
      this.timers.add(timer);
      signal?.addEventListener('abort', timer.resolve, { once: true });
    });
  }

  /** Sleeps in progress. */
  get pending(): number {
    return this.timers.size;
  }

  /**
   * Moves time forward by `ms`, firing every sleep that falls due, each after the work it caused has settled.
   * Fails on more than `maxFired` sleeps in one call: code that sleeps 0 ms in a loop would never let it end.
   */
  async advance(ms: number, maxFired = 10_000): Promise<void> {
    const target = this.nowMs + ms;
    for (let fired = 0; ; fired++) {
      if (fired > maxFired) throw new Error(`more than ${maxFired} sleeps fell due within ${ms} ms: a busy loop`);
      await settle();
      const due = [...this.timers].filter((timer) => timer.atMs <= target).sort((a, b) => a.atMs - b.atMs)[0];
      if (!due) break;
      this.nowMs = Math.max(this.nowMs, due.atMs);
      due.resolve();
    }
    this.nowMs = target;
    await settle();
  }
}

/** Lets promise chains and immediate callbacks run. */
export async function settle(): Promise<void> {
  for (let round = 0; round < 10; round++) await new Promise((resolve) => setImmediate(resolve));
}
