/**
 * Doing something again until it works, for start-up steps that depend on a server (the Kubernetes API server
 * unreachable, credentials not yet valid): a FlannelError marked `retryable` is reported through `onRetry` and
 * tried again after a doubling backoff; anything else is thrown at once. Time comes from the injected Clock.
 */
import type { Clock } from './clock.js';
import { FlannelError } from './errors.js';
import { Backoff } from './timing.js';

export interface RetryOptions {
  readonly signal: AbortSignal;
  readonly clock: Clock;
  /** Between attempts: `initialMs` doubling to `maxMs` (default 1 s to 30 s). */
  readonly initialMs?: number;
  readonly maxMs?: number;
  /** Called after each retryable failure, with the wait before the next attempt. */
  readonly onRetry: (error: FlannelError, retryInMs: number) => void;
}

/** The attempt's result; undefined when `signal` aborts first (between attempts or during one that then fails). */
export async function retryWhileRetryable<T>(attempt: () => Promise<T>, options: RetryOptions): Promise<T | undefined> {
  const backoff = new Backoff(options.initialMs ?? 1000, options.maxMs ?? 30_000);
  while (!options.signal.aborted) {
    try {
      return await attempt();
    } catch (error) {
      if (options.signal.aborted) break;
      if (!(error instanceof FlannelError) || !error.retryable) throw error;
      const delayMs = backoff.next();
      options.onRetry(error, delayMs);
      await options.clock.sleep(delayMs, options.signal);
    }
  }
  return undefined;
}
