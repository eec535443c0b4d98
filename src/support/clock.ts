/**
 * Time as a port: what reads the time or waits gets a Clock, so tests drive it with a fake one instead of
 * sleeping. `systemClock.sleep` accepts any duration: Infinity waits for the signal only, and durations past
 * setTimeout's limit (2^31 − 1 ms, ~24.8 days; Node fires a longer timer after 1 ms) are waited in steps.
 */
import { sleep, whenAborted } from './timing.js';

export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  /** Resolves after `ms` (at once when `signal` aborts, without throwing). */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

const MAX_TIMER_MS = 2 ** 31 - 1;

export const systemClock: Clock = {
  now: () => Date.now(),
  async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    const until = Date.now() + ms;
    while (!signal?.aborted) {
      const left = until - Date.now();
      if (left <= 0) return;
      await sleep(Math.min(left, MAX_TIMER_MS), signal);
    }
  },
};

/**
 * The wait of a loop that sleeps until a time or until someone has work for it: `sleep` ends at `ms`, when
 * `signal` aborts (at once if it already has) or when `wake()` is called meanwhile. A wake() while nobody
 * sleeps is not kept: loops note their work in a flag of their own before waking.
 */
export class Alarm {
  #ring: (() => void) | undefined;

  constructor(private readonly clock: Clock = systemClock) {}

  /** Ends the current sleep, if any. */
  wake(): void {
    this.#ring?.();
  }

  async sleep(ms: number, signal: AbortSignal): Promise<void> {
    const controller = new AbortController();
    const ring = () => controller.abort();
    const detach = whenAborted(signal, ring);
    this.#ring = ring;
    try {
      await this.clock.sleep(ms, controller.signal);
    } finally {
      detach();
      if (this.#ring === ring) this.#ring = undefined;
    }
  }
}
