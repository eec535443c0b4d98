/**
 * Keeping our lease (reference §3.4, and better): acquire it, renew it `renewMarginMs` before it expires,
 * re-acquire it (same subnet preferred) when our key is deleted or expires, and hold on to it when another
 * host overwrites our key while our lease is still valid in time — our value is written back and the conflict
 * logged as an error naming the other host (upstream, and flannel-ts before, jumped to a new random subnet and
 * stranded every pod on this host).
 *
 * A lease without expiry (a Kubernetes node's podCIDR, a reservation) is never renewed. Time comes from an
 * injected Clock. The keeper is the only writer of the current lease after start; `run` returns when `signal`
 * aborts, leaving the lease in the store (a restart reuses it).
 */
import type { NetworkConfig } from '../config/network-config.js';
import { type Lease, type LeaseAttrs, leaseKey } from '../lease/lease.js';
import type { SubnetManager } from '../subnet/subnet-manager.js';
import { Alarm, type Clock, systemClock } from '../support/clock.js';
import { FlannelError, errorMessage } from '../support/errors.js';
import type { Logger } from '../support/logger.js';
import { Backoff } from '../support/timing.js';

export interface BackoffRange {
  readonly initialMs: number;
  readonly maxMs: number;
}

export interface LeaseKeeperOptions {
  readonly subnetManager: Pick<SubnetManager, 'acquireLease' | 'renewLease'>;
  readonly config: NetworkConfig;
  /** What we publish in our lease (the backend's lease attributes). */
  readonly attrs: LeaseAttrs;
  readonly logger: Logger;
  readonly renewMarginMs: number;
  /** Wait after a failed renewal, re-acquisition or re-assertion (upstream: 1 min). */
  readonly renewRetryMs?: number;
  /** Between retryable acquisition failures (1 s doubling to 30 s). */
  readonly acquireBackoff?: BackoffRange;
  /** Between re-assertions of a key that keeps being overwritten (1 s doubling to 60 s). */
  readonly reassertBackoff?: BackoffRange;
  readonly clock?: Clock;
  /** Called after a re-acquisition that produced a different subnet. */
  readonly onSubnetChange?: (lease: Lease, previous: Lease) => void;
  /**
   * Called after every re-acquisition (same subnet or not), after onSubnetChange: what the store held about us
   * was lost, so whatever was published once after the first acquisition must be published again.
   */
  readonly onReacquired?: (lease: Lease) => void;
}

type Incident = { readonly kind: 'lost' } | { readonly kind: 'overwritten'; readonly by: Lease };

/** Re-assertions closer together than this count as one ongoing conflict (they back off). */
const CONFLICT_WINDOW_MS = 5 * 60_000;

export class LeaseKeeper {
  private current: Lease | undefined;
  private incident: Incident | undefined;
  private readonly alarm: Alarm;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly reassertBackoff: Backoff;
  private lastReassertMs = -Infinity;

  constructor(private readonly options: LeaseKeeperOptions) {
    this.clock = options.clock ?? systemClock;
    this.alarm = new Alarm(this.clock);
    this.logger = options.logger;
    const range = options.reassertBackoff ?? { initialMs: 1000, maxMs: 60_000 };
    this.reassertBackoff = new Backoff(range.initialMs, range.maxMs);
  }

  /** Our lease, once acquired. */
  get lease(): Lease | undefined {
    return this.current;
  }

  /** Acquires our first lease, retrying retryable failures; undefined when `signal` aborts first. */
  async acquire(signal: AbortSignal): Promise<Lease | undefined> {
    this.current = await this.acquireWithRetries(undefined, signal);
    return this.current;
  }

  /** Our key was deleted or expired: re-acquire (same subnet preferred). */
  lost(): void {
    this.report({ kind: 'lost' });
  }

  /** Our key now holds someone else's value (`by`). */
  overwritten(by: Lease): void {
    this.report({ kind: 'overwritten', by });
  }

  /** Renews, re-acquires and re-asserts until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const incident = this.incident;
      this.incident = undefined;
      try {
        if (incident?.kind === 'lost') await this.reacquire(signal);
        else if (incident?.kind === 'overwritten') await this.reassert(incident.by, signal);
        else if (this.clock.now() >= this.renewAtMs()) await this.renew();
        else await this.waitUntil(this.renewAtMs(), signal);
      } catch (error) {
        const retryMs = this.options.renewRetryMs ?? 60_000;
        this.logger.warn({ err: errorMessage(error), retryInMs: retryMs }, incident ? 'error keeping our lease; trying again' : 'error renewing lease; trying again');
        // The incident is retried after the wait; a plain renewal's wait ends early when one is reported.
        this.incident ??= incident;
        await this.waitUntil(this.clock.now() + retryMs, signal, incident !== undefined);
      }
    }
  }

  /** When to renew: `renewMarginMs` before expiry; never for a lease that does not expire. */
  private renewAtMs(): number {
    const expiresAtMs = this.current?.expiresAtMs;
    return expiresAtMs === undefined ? Infinity : expiresAtMs - this.options.renewMarginMs;
  }

  private async renew(): Promise<void> {
    this.current = await this.options.subnetManager.renewLease(this.current as Lease);
    this.logger.info({ subnet: this.current.subnet.toString(), expiresAt: expiry(this.current) }, 'lease renewed');
  }

  private async reacquire(signal: AbortSignal): Promise<void> {
    const previous = this.current as Lease;
    const lease = await this.acquireWithRetries(previous, signal);
    if (!lease) return;
    this.current = lease;
    if (leaseKey(lease) === leaseKey(previous)) {
      this.logger.info({ subnet: lease.subnet.toString() }, 'lease re-acquired with the same subnet');
    } else {
      this.logger.error({ previous: previous.subnet.toString(), subnet: lease.subnet.toString() }, 'lease re-acquired with a DIFFERENT subnet: existing pods keep old addresses until recreated');
      this.options.onSubnetChange?.(lease, previous);
    }
    this.options.onReacquired?.(lease);
  }

  /**
   * Someone wrote `by` over our key. While our lease is valid in time the subnet is ours: write our value back
   * (backing off if the other side keeps writing). Once it has expired the other host may rightly hold it.
   */
  private async reassert(by: Lease, signal: AbortSignal): Promise<void> {
    const lease = this.current as Lease;
    const other = { subnet: lease.subnet.toString(), otherPublicIP: by.attrs.publicIP.toString(), otherPublicIPv6: by.attrs.publicIPv6?.toString() };
    if (lease.expiresAtMs !== undefined && this.clock.now() >= lease.expiresAtMs) {
      this.logger.error(other, 'our subnet key was taken by another host after our lease expired; acquiring a lease again');
      return this.reacquire(signal);
    }
    const now = this.clock.now();
    if (now - this.lastReassertMs < CONFLICT_WINDOW_MS) {
      await this.waitUntil(now + this.reassertBackoff.next(), signal, true);
      if (signal.aborted) return;
    } else {
      this.reassertBackoff.reset();
    }
    this.lastReassertMs = this.clock.now();
    this.logger.error({ ...other, expiresAt: expiry(lease) }, 'CONFLICT: another host overwrote our subnet key while our lease is valid; keeping our subnet and writing our lease back');
    this.current = await this.options.subnetManager.renewLease(lease);
  }

  private async acquireWithRetries(prefer: Lease | undefined, signal: AbortSignal): Promise<Lease | undefined> {
    const range = this.options.acquireBackoff ?? { initialMs: 1000, maxMs: 30_000 };
    const backoff = new Backoff(range.initialMs, range.maxMs);
    const preferred = prefer ? { subnet: prefer.subnet, ...(prefer.ipv6Subnet ? { ipv6Subnet: prefer.ipv6Subnet } : {}) } : undefined;
    while (!signal.aborted) {
      try {
        return await this.options.subnetManager.acquireLease(this.options.config, this.options.attrs, preferred);
      } catch (error) {
        if (!(error instanceof FlannelError) || !error.retryable) throw error;
        this.logger.warn({ err: error.message }, 'acquiring a lease failed; retrying');
        await this.clock.sleep(backoff.next(), signal);
      }
    }
    return undefined;
  }

  private report(incident: Incident): void {
    // A loss outranks an overwrite: either way the next step starts from what the store holds now.
    if (this.incident?.kind !== 'lost') this.incident = incident;
    this.alarm.wake();
  }

  /** Sleeps until `atMs`, `signal` aborts or (unless `ignoreIncidents`) an incident is reported. */
  private async waitUntil(atMs: number, signal: AbortSignal, ignoreIncidents = false): Promise<void> {
    if (ignoreIncidents) return this.clock.sleep(atMs - this.clock.now(), signal);
    if (this.incident) return;
    await this.alarm.sleep(atMs - this.clock.now(), signal);
  }
}

function expiry(lease: Lease): string {
  return lease.expiresAtMs === undefined ? 'never' : new Date(lease.expiresAtMs).toISOString();
}
