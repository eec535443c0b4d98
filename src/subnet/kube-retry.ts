/**
 * Upstream's "poll every 3 s for up to 30 s" around a Kubernetes API call (wait.PollUntilContextTimeout), with
 * two differences: credentials that the server refuses (401, 403) and requests it cannot accept (400, 415, 422)
 * fail at once instead of being retried for 30 s, and the final error is retryable, so the daemon's own
 * backoff keeps trying instead of exiting.
 */
import { FlannelError, errorMessage } from '../support/errors.js';
import { sleep } from '../support/timing.js';
import { KubeApiError } from './kube-api.js';

export interface RetryPolicy {
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly now: () => number;
  readonly signal?: AbortSignal;
}

export const UPSTREAM_RETRY = { intervalMs: 3000, timeoutMs: 30_000 } as const;

/**
 * Runs `attempt` until it succeeds; throws FlannelError(`code`, `<what>. Error: <last error>`, retryable)
 * after `timeoutMs`, or the attempt's own error when retrying cannot help.
 */
export async function retryKubeCall<T>(attempt: () => Promise<T>, policy: RetryPolicy, code: string, what: string): Promise<T> {
  const deadline = policy.now() + policy.timeoutMs;
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (error instanceof KubeApiError && (!error.retryable || error.status === 401 || error.status === 403)) throw error;
      if (policy.signal?.aborted || policy.now() + policy.intervalMs > deadline) {
        throw new FlannelError(code, `${what}. Error: ${errorMessage(error)}`, { cause: error, retryable: true });
      }
    }
    await sleep(policy.intervalMs, policy.signal);
  }
}
