/**
 * Datapath health: flanneld notices peers that stop answering over the overlay (issue 12: with UDP 8472
 * dropped on one host, pods lost every packet while /readyz said 200 and nothing was logged).
 *
 * How: every `intervalMs` (default 30 s) it probes a small window of peers (default 8, round-robin over all
 * peers, samplePeers) plus every peer currently suspected or down, with the same encapsulated probe as
 * `flannelctl doctor` (probe-target.ts), and feeds the outcomes to PeerHealth (3 misses in a row → down,
 * 2 answers → up). Each transition is logged once (warn "peer unreachable over the overlay", info "peer
 * reachable over the overlay again") and `flannel_peers_unreachable` / `flannel_peer_probes_total` follow.
 * Cost at 5,000 peers: 8–16 small datagrams per 30 s, and every peer is covered within ~5 hours; a dead peer is
 * confirmed within 3 rounds of first being probed.
 *
 * Why not counters: the kernel's VXLAN device counts no per-peer replies, and udp/wireguard counters say bytes
 * flowed, not that a peer answers; a probe the peer's kernel answers is the one signal that works the same for
 * every backend and for idle peers.
 *
 * Why /readyz does not follow it: readiness is about this host (devices in place, subnet.env current), what
 * kubelet and systemd gate on. A peer that stops answering is that peer's problem, or the network's; making
 * every host unready because one peer's port is closed would take the whole cluster's flannel pods out of
 * service at once. The metric and the log line are where an operator (or an alert) sees it.
 */
import type { Lease } from '../../lease/lease.js';
import type { DatapathMetrics } from '../../metrics/datapath-metrics.js';
import type { Clock } from '../../support/clock.js';
import { errorMessage } from '../../support/errors.js';
import type { Logger } from '../../support/logger.js';
import { samplePeers } from './peer-sample.js';
import { PeerHealth, type PeerHealthOptions } from './peer-health.js';
import { type OverlayProber, type ProbeContext, probeTargetFor } from './probe-target.js';

export interface DatapathHealthOptions extends PeerHealthOptions {
  readonly prober: OverlayProber;
  /** The current probe context (own lease, VTEP MAC…) and admitted peers; undefined while not known yet. */
  readonly current: () => { context: ProbeContext; peers: readonly Lease[] } | undefined;
  readonly metrics: DatapathMetrics['probes'];
  readonly logger: Logger;
  readonly clock: Clock;
  readonly intervalMs?: number;
  readonly sampleSize?: number;
  readonly timeoutMs?: number;
}

export class DatapathHealth {
  private readonly health: PeerHealth;
  private round = 0;

  constructor(private readonly options: DatapathHealthOptions) {
    this.health = new PeerHealth(options);
  }

  /** Peers down right now (for the status document). */
  unreachable(): string[] {
    return this.health.down();
  }

  get watched(): number {
    return this.health.watched;
  }

  /** One round: probe the window and the unsettled peers, record, log transitions, set metrics. */
  async probeRound(signal?: AbortSignal): Promise<void> {
    const { options } = this;
    const current = options.current();
    if (!current) return;
    const names = new Set(current.peers.map((peer) => peer.subnet.toString()));
    this.health.retain(names);
    const chosen = samplePeers(current.peers, (peer) => peer.subnet.toString(), options.sampleSize ?? 8, this.round++, this.health.unsettled());
    const targets = chosen.flatMap((peer) => {
      const target = probeTargetFor(current.context, peer);
      return 'skip' in target ? [] : [target];
    });
    if (targets.length === 0) return;
    const outcomes = await options.prober.probe(targets, options.timeoutMs ?? 1000, signal);
    if (signal?.aborted) return;
    for (const outcome of outcomes) options.metrics.probed(outcome.result, outcome.rttMs === undefined ? undefined : outcome.rttMs / 1000);
    for (const transition of this.health.record(outcomes)) {
      const lease = current.peers.find((peer) => peer.subnet.toString() === transition.peer);
      const fields = { peer: transition.peer, publicIP: lease?.attrs.publicIP.toString() };
      if (transition.to === 'down') options.logger.warn(fields, 'peer unreachable over the overlay');
      else options.logger.info(fields, 'peer reachable over the overlay again');
    }
    options.metrics.setPeerHealth(this.health.down().length, this.health.watched);
  }

  /** Rounds every intervalMs until `signal` aborts; a failing round is logged and the next one runs. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await this.options.clock.sleep(this.options.intervalMs ?? 30_000, signal);
      if (signal.aborted) break;
      try {
        await this.probeRound(signal);
      } catch (error) {
        this.options.logger.warn({ err: errorMessage(error) }, 'overlay probe round failed');
      }
    }
  }
}
