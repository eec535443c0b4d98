/**
 * The lease stream a daemon consumes: a snapshot first, then events, forever, whatever the registry does.
 * Watching resumes from the last seen revision + 1 after a failure (backoff 100 ms doubling to 5 s, reset after
 * a good batch, as upstream); a compacted revision, or a store that was wiped or restored (REGISTRY_RESET),
 * leads at once to a fresh listing sent as a snapshot — a snapshot without our own lease is how the daemon
 * learns that it must re-assert it. Malformed keys and values are reported through `onMalformed` and never become removals (upstream
 * resets every peer on one bad value, reference §3.7).
 *
 * An outage (the store not answering) is logged at its start (warn), reminded once a minute while it lasts
 * (each failed attempt in between at debug), and at its end, when the store accepts the watch or the listing
 * again, with how long it lasted (info).
 */
import type { LeaseWatchResult } from '../lease/lease-tracker.js';
import { FlannelError, errorMessage } from '../support/errors.js';
import type { Logger } from '../support/logger.js';
import { type Clock, systemClock } from '../support/clock.js';
import { Backoff, sleep } from '../support/timing.js';
import type { MalformedEntry, Registry, RegistryListing } from './registry.js';

export interface LeaseWatchOptions {
  readonly signal: AbortSignal;
  readonly logger: Logger;
  readonly onMalformed: (entry: MalformedEntry) => void;
  readonly backoff?: Backoff;
  /** A listing just made (e.g. while acquiring our lease), used as the first snapshot instead of listing again. */
  readonly initial?: RegistryListing;
  /** For the length of outages (default: the system clock). */
  readonly clock?: Pick<Clock, 'now'>;
}

/** While the store keeps failing, a reminder at warn this often (each failure in between at debug). */
const OUTAGE_REMINDER_MS = 60_000;

/** The start, the reminders and the end of a stretch of failed attempts, as log lines. */
class OutageLog {
  private startedAtMs: number | undefined;
  private failures = 0;
  private remindedAtMs = 0;

  constructor(
    private readonly logger: Logger,
    private readonly clock: Pick<Clock, 'now'>,
  ) {}

  failed(message: string, fields: Record<string, unknown>): void {
    const now = this.clock.now();
    this.failures++;
    if (this.startedAtMs === undefined) {
      this.startedAtMs = this.remindedAtMs = now;
      this.logger.warn(fields, message);
    } else if (now - this.remindedAtMs >= OUTAGE_REMINDER_MS) {
      this.remindedAtMs = now;
      this.logger.warn({ ...fields, downFor: formatOutage(now - this.startedAtMs), failures: this.failures }, 'lease watch still failing');
    } else {
      this.logger.debug(fields, message);
    }
  }

  /** The store answered: logs the outage's end, if there was one. */
  resumed(fields: Record<string, unknown>): void {
    if (this.startedAtMs === undefined) return;
    const downMs = this.clock.now() - this.startedAtMs;
    this.logger.info({ ...fields, downFor: formatOutage(downMs), failures: this.failures }, 'lease watch resumed after an outage');
    this.startedAtMs = undefined;
    this.failures = 0;
  }
}

/** 850ms, 12.3s, 4m05s, 2h03m. */
export function formatOutage(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const seconds = Math.round(ms / 1000);
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, '0')}s`;
  const minutes = Math.round(seconds / 60);
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
}

export async function* watchLeaseStream(registry: Registry, options: LeaseWatchOptions): AsyncGenerator<LeaseWatchResult> {
  const { signal, logger, onMalformed } = options;
  const backoff = options.backoff ?? new Backoff(100, 5000);
  const outage = new OutageLog(logger, options.clock ?? systemClock);
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
        outage.resumed({ revision: String(listing.revision) });
        listing.malformed.forEach(onMalformed);
        resumeFrom = listing.revision + 1n;
        yield { kind: 'snapshot', leases: listing.leases };
      } catch (error) {
        outage.failed('listing leases failed; retrying', { err: errorMessage(error) });
        await sleep(backoff.next(), signal);
        continue;
      }
    }
    try {
      const from = resumeFrom;
      for await (const batch of registry.watchLeases(from, signal, () => outage.resumed({ revision: String(from) }))) {
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
      outage.failed('lease watch failed; resuming', { err: errorMessage(error), revision: String(resumeFrom) });
      await sleep(backoff.next(), signal);
    }
  }
}
