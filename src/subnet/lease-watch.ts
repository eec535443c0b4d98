/**
 * The lease stream a daemon consumes: a snapshot first, then events, forever, whatever the registry does.
 * Watching resumes from the last seen revision + 1 after a failure (backoff 100 ms doubling to 5 s, reset after
 * a good batch, as upstream); a compacted revision, or a store that was wiped or restored (REGISTRY_RESET),
 * leads at once to a fresh listing sent as a snapshot — a snapshot without our own lease is how the daemon
 * learns that it must re-assert it. Malformed keys and values are reported through `onMalformed` and never become removals (upstream
 * resets every peer on one bad value, reference §3.7).
 */
import type { LeaseWatchResult } from '../lease/lease-tracker.js';
import { FlannelError, errorMessage } from '../support/errors.js';
import type { Logger } from '../support/logger.js';
import { Backoff, sleep } from '../support/timing.js';
import type { MalformedEntry, Registry, RegistryListing } from './registry.js';

export interface LeaseWatchOptions {
  readonly signal: AbortSignal;
  readonly logger: Logger;
  readonly onMalformed: (entry: MalformedEntry) => void;
  readonly backoff?: Backoff;
  /** A listing just made (e.g. while acquiring our lease), used as the first snapshot instead of listing again. */
  readonly initial?: RegistryListing;
}

export async function* watchLeaseStream(registry: Registry, options: LeaseWatchOptions): AsyncGenerator<LeaseWatchResult> {
  const { signal, logger, onMalformed } = options;
  const backoff = options.backoff ?? new Backoff(100, 5000);
  let resumeFrom: bigint | undefined;
  if (options.initial) {
    options.initial.malformed.forEach(onMalformed);
    resumeFrom = options.initial.revision + 1n;
    yield { kind: 'snapshot', leases: options.initial.leases };
  }
  while (!signal.aborted) {
    if (resumeFrom === undefined) {
      try {
        const listing = await registry.listLeases();
        listing.malformed.forEach(onMalformed);
        resumeFrom = listing.revision + 1n;
        yield { kind: 'snapshot', leases: listing.leases };
      } catch (error) {
        logger.warn({ err: errorMessage(error) }, 'listing leases failed; retrying');
        await sleep(backoff.next(), signal);
        continue;
      }
    }
    try {
      for await (const batch of registry.watchLeases(resumeFrom, signal)) {
        backoff.reset();
        resumeFrom = batch.revision + 1n;
        batch.malformed.forEach(onMalformed);
        if (batch.events.length > 0) yield { kind: 'events', events: batch.events };
      }
    } catch (error) {
      if (signal.aborted) break;
      if (error instanceof FlannelError && (error.code === 'COMPACTED' || error.code === 'REGISTRY_RESET')) {
        logger.warn({ revision: String(resumeFrom), err: error.message }, error.code === 'COMPACTED'
          ? 'watch revision compacted; re-listing leases'
          : 'lease store was wiped or restored; re-listing leases');
        resumeFrom = undefined;
        continue;
      }
      logger.warn({ err: errorMessage(error), revision: String(resumeFrom) }, 'lease watch failed; resuming');
      await sleep(backoff.next(), signal);
    }
  }
}
