/**
 * Time as a port: what reads the time or waits gets a Clock, so tests drive it with a fake one instead of
 * sleeping. `systemClock.sleep` accepts any duration: Infinity waits for the signal only, and durations past
 * setTimeout's limit (2^31 − 1 ms, ~24.8 days; Node fires a longer timer after 1 ms) are waited in steps.
 */
import { sleep } from './timing.js';

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
