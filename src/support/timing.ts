/**
 * Waiting that honours cancellation, and exponential backoff. `sleep` resolves early (without throwing) when
 * the signal aborts, so loops simply re-check `signal.aborted`.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Doubling delay between `initialMs` and `maxMs`; `reset()` after a success. */
export class Backoff {
  private currentMs: number;

  constructor(
    private readonly initialMs: number,
    private readonly maxMs: number,
  ) {
    this.currentMs = initialMs;
  }

  next(): number {
    const value = this.currentMs;
    this.currentMs = Math.min(this.currentMs * 2, this.maxMs);
    return value;
  }

  reset(): void {
    this.currentMs = this.initialMs;
  }
}
