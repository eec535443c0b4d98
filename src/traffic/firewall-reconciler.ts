/**
 * Keeps flanneld's firewall rules as desired state: every `--iptables-resync` seconds it reads our rules
 * (read-only) and compares them with what it last wrote; only a difference — a rule or chain deleted, a rule
 * reordered or changed, the first pass after a start — leads to a write, one transaction per family. A quiet
 * resync writes nothing and takes no xtables lock for writing (upstream rewrote every 5 s and starved
 * kube-proxy, flannel#933). A change of what is wanted (a new lease) is a difference too. Rules stay in place
 * when the daemon stops, so traffic flows across a restart.
 *
 * The text read back right after a write is what later reads are compared with. When a rewrite of unchanged rules
 * reads back differently from the last time, someone edited them in between: that text is not trusted and the
 * rules are checked again at once.
 *
 * `markDirty()` asks for a pass now instead of at the next resync (a peer joined or left: the overlay ingress
 * filter's peer set must follow at once). Requests during a pass coalesce into one more pass. While the
 * filter's peers are not known yet (before the first lease snapshot), a family that already has rules of ours
 * is left untouched, so a restart never drops peers' traffic; a family with none is written with an empty set
 * (a fresh host has no pods to reach yet).
 */
import type { FlannelMetrics } from '../metrics/flannel-metrics.js';
import type { IpFamily } from '../net/ip.js';
import { Alarm } from '../support/clock.js';
import { errorMessage } from '../support/errors.js';
import type { Logger } from '../support/logger.js';
import type { Firewall } from './firewall.js';
import type { TrafficSpec } from './traffic-rules.js';

export interface FirewallReconcilerOptions {
  readonly firewall: Firewall;
  /** The wanted rules per family, evaluated on every pass (the lease may change). */
  readonly specs: () => readonly TrafficSpec[];
  readonly logger: Logger;
  readonly resyncMs: number;
  /** Transactions written and failed passes (absent: not counted). */
  readonly metrics?: FlannelMetrics['firewall'];
  /** Epoch ms, for `state` (default Date.now). */
  readonly now?: () => number;
}

/** What the firewall reconciler did, for `flannelctl status`. */
export interface FirewallState {
  readonly writes: number;
  readonly lastWriteAtMs?: number;
  /** The last pass's failure, while the last pass failed. */
  readonly lastError?: string;
}

export class FirewallReconciler {
  /** Per family: the spec last written and the rules read back right after writing it. */
  private readonly written = new Map<IpFamily, { spec: string; rules: string }>();
  private writeCount = 0;
  private lastWriteAtMs: number | undefined;
  private lastError: string | undefined;
  private dirty = false;
  private readonly alarm = new Alarm();

  constructor(private readonly options: FirewallReconcilerOptions) {}

  /** How many transactions this reconciler has written. */
  get writes(): number {
    return this.writeCount;
  }

  get state(): FirewallState {
    return {
      writes: this.writeCount,
      ...(this.lastWriteAtMs === undefined ? {} : { lastWriteAtMs: this.lastWriteAtMs }),
      ...(this.lastError === undefined ? {} : { lastError: this.lastError }),
    };
  }

  /** Runs a pass as soon as the loop is free (coalesced). */
  markDirty(): void {
    this.dirty = true;
    this.alarm.wake();
  }

  /**
   * One pass: read, compare, write where needed. Returns the number of families written; a failure is counted,
   * kept for `state` until a pass succeeds, and thrown.
   */
  async pass(): Promise<number> {
    try {
      const wrote = await this.compareAndWrite();
      this.lastError = undefined;
      return wrote;
    } catch (error) {
      this.lastError = errorMessage(error);
      this.options.metrics?.writeFailed(this.options.firewall.mode);
      throw error;
    }
  }

  private async compareAndWrite(): Promise<number> {
    const { firewall, logger } = this.options;
    let wrote = 0;
    for (const spec of this.options.specs()) {
      const wanted = JSON.stringify(spec);
      const current = await firewall.read(spec.family);
      const last = this.written.get(spec.family);
      if (last !== undefined && last.spec === wanted && current === last.rules) continue;
      if (spec.ingress && spec.ingress.peers === undefined && current !== '') continue;
      if (!spec.ipMasq && !spec.forwardRules && !spec.ingress && current === '') {
        // Nothing wanted, nothing there: remember that without a write.
        this.written.set(spec.family, { spec: wanted, rules: current });
        continue;
      }
      await firewall.write(spec);
      const readBack = await firewall.read(spec.family);
      this.writeCount++;
      this.lastWriteAtMs = (this.options.now ?? Date.now)();
      wrote++;
      const reason = last === undefined ? 'start' : last.spec !== wanted ? 'changed' : 'drift';
      this.options.metrics?.written(firewall.mode, spec.family, reason);
      if (reason === 'drift' && readBack !== last?.rules) {
        // We rewrote rules we had written before, yet they read back differently: someone changed them between
        // our write and our read. Keep the known-good text, so the next pass (at once) sees the change as drift
        // instead of taking it for what we wrote.
        this.dirty = true;
      } else {
        this.written.set(spec.family, { spec: wanted, rules: readBack });
      }
      const ingressPeers = spec.ingress ? spec.ingress.peers?.length ?? 0 : undefined;
      logger.info({ family: spec.family, mode: firewall.mode, reason, ipMasq: spec.ipMasq, forward: spec.forwardRules, ingressPeers }, 'firewall rules written');
    }
    return wrote;
  }

  /** Resync loop; failures are logged and retried on the next tick. Returns when `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      if (!this.dirty) {
        // Nothing wanted (no masquerade, forward rules or ingress filter): the first pass removed any leftovers,
        // and reading the tables back every resyncMs would spawn iptables/nft for nothing (upstream leaves the
        // firewall alone then). markDirty() still wakes the loop.
        const wanted = this.options.specs().some((spec) => spec.ipMasq || spec.forwardRules || spec.ingress !== undefined);
        await this.alarm.sleep(wanted ? this.options.resyncMs : Infinity, signal);
      }
      if (signal.aborted) break;
      this.dirty = false;
      try {
        await this.pass();
      } catch (error) {
        this.options.logger.warn({ err: errorMessage(error) }, 'firewall resync failed; retrying at the next resync');
      }
    }
  }
}
