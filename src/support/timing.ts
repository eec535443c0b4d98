/**
 * Waiting that honours cancellation, and exponential backoff. `sleep` resolves early (without throwing) when
 * the signal aborts, so loops simply re-check `signal.aborted`.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    let detach = (): void => undefined;
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      detach();
      resolve();
    }
    if (signal) detach = whenAborted(signal, done);
  });
}

/**
 * Calls `onAbort` once when `signal` aborts — at once when it already has. A listener added to a signal that
 * has aborted never fires, so a wait that begins after the abort (SIGTERM during start-up, while the daemon
 * was still setting up) would never end: every wait here links to its signal through this. Returns the
 * function that detaches the listener.
 */
export function whenAborted(signal: AbortSignal, onAbort: () => void): () => void {
  if (signal.aborted) {
    onAbort();
    return () => undefined;
  }
  signal.addEventListener('abort', onAbort, { once: true });
  return () => signal.removeEventListener('abort', onAbort);
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
