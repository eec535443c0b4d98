/**
 * Writes subnet.env, and keeps trying until it is written: a failed write (a full or read-only disk, a
 * missing directory) is retried with backoff (1 s doubling to 30 s) instead of leaving flanneld not ready
 * until a restart. `upToDate` says whether the file on disk holds the latest contents published; the daemon
 * is ready only then. `run` returns when `signal` aborts.
 */
import { Alarm, type Clock, systemClock } from '../support/clock.js';
import { errorMessage } from '../support/errors.js';
import type { Logger } from '../support/logger.js';
import { Backoff } from '../support/timing.js';
import type { BackoffRange } from './lease-keeper.js';

export interface SubnetFileWriterOptions {
  /** Writes the whole file (atomically); throws on failure. */
  readonly write: (contents: string) => void;
  readonly logger: Logger;
  readonly retry?: BackoffRange;
  readonly clock?: Clock;
  /** Called after each successful write. */
  readonly onWritten?: () => void;
}

export class SubnetFileWriter {
  private wanted: string | undefined;
  private written: string | undefined;
  private readonly alarm: Alarm;

  constructor(private readonly options: SubnetFileWriterOptions) {
    this.alarm = new Alarm(options.clock ?? systemClock);
  }

  /** The file should hold `contents` (written by `run`, soon). */
  publish(contents: string): void {
    this.wanted = contents;
    this.alarm.wake();
  }

  get upToDate(): boolean {
    return this.wanted !== undefined && this.written === this.wanted;
  }

  async run(signal: AbortSignal): Promise<void> {
    const clock = this.options.clock ?? systemClock;
    const range = this.options.retry ?? { initialMs: 1000, maxMs: 30_000 };
    const backoff = new Backoff(range.initialMs, range.maxMs);
    let failures = 0;
    while (!signal.aborted) {
      const contents = this.wanted;
      if (contents === undefined || contents === this.written) {
        await this.alarm.sleep(Infinity, signal);
        continue;
      }
      try {
        this.options.write(contents);
        this.written = contents;
        if (failures > 0) this.options.logger.info({ failures }, 'subnet file written after failures');
        failures = 0;
        backoff.reset();
        this.options.onWritten?.();
      } catch (error) {
        failures++;
        const retryInMs = backoff.next();
        // As upstream, routing continues for the pods that exist; readiness waits for the file.
        this.options.logger.error({ err: errorMessage(error), failures, retryInMs }, 'failed to write subnet file; not ready until it is written');
        await clock.sleep(retryInMs, signal);
      }
    }
  }
}
