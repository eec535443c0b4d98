/**
 * Per-peer reachability over the overlay with hysteresis, pure: a peer is `up` until DOWN_AFTER probes in a row
 * go unanswered (one lost probe is `suspect`, not down: a single dropped UDP datagram must not page anyone),
 * and `down` until UP_AFTER in a row are answered. Only transitions are reported, so the caller logs each
 * change once. A probe that could not be sent (`error`) says nothing about the peer and leaves it as it was.
 * Peers that leave the lease table are forgotten (`retain`).
 */
import type { ProbeOutcome } from './probe-target.js';

export type PeerState = 'up' | 'suspect' | 'down';

export interface PeerHealthOptions {
  /** Consecutive unanswered probes before a peer is down (default 3). */
  readonly downAfter?: number;
  /** Consecutive answered probes before a down peer is up again (default 2). */
  readonly upAfter?: number;
}

export interface PeerTransition {
  readonly peer: string;
  readonly from: PeerState;
  readonly to: 'up' | 'down';
}

export class PeerHealth {
  private readonly peers = new Map<string, { state: PeerState; misses: number; answers: number }>();
  private readonly downAfter: number;
  private readonly upAfter: number;

  constructor(options: PeerHealthOptions = {}) {
    this.downAfter = Math.max(1, options.downAfter ?? 3);
    this.upAfter = Math.max(1, options.upAfter ?? 2);
  }

  /** Records one round's outcomes; returns the peers that became down or up again. */
  record(outcomes: readonly ProbeOutcome[]): PeerTransition[] {
    const transitions: PeerTransition[] = [];
    for (const outcome of outcomes) {
      if (outcome.result === 'error') continue;
      const entry = this.peers.get(outcome.peer) ?? { state: 'up' as PeerState, misses: 0, answers: 0 };
      this.peers.set(outcome.peer, entry);
      if (outcome.result === 'ok') {
        entry.misses = 0;
        entry.answers++;
        if (entry.state === 'suspect') entry.state = 'up';
        else if (entry.state === 'down' && entry.answers >= this.upAfter) {
          transitions.push({ peer: outcome.peer, from: 'down', to: 'up' });
          entry.state = 'up';
        }
      } else {
        entry.answers = 0;
        entry.misses++;
        if (entry.state !== 'down' && entry.misses >= this.downAfter) {
          transitions.push({ peer: outcome.peer, from: entry.state, to: 'down' });
          entry.state = 'down';
        } else if (entry.state === 'up') entry.state = 'suspect';
      }
    }
    return transitions;
  }

  /** Forgets peers not in `current` (their leases are gone). */
  retain(current: ReadonlySet<string>): void {
    for (const peer of this.peers.keys()) if (!current.has(peer)) this.peers.delete(peer);
  }

  /** Peers down right now, sorted. */
  down(): string[] {
    return [...this.peers].filter(([, entry]) => entry.state === 'down').map(([peer]) => peer).sort();
  }

  /** Peers suspected or down: probed every round until settled. */
  unsettled(): Set<string> {
    return new Set([...this.peers].filter(([, entry]) => entry.state !== 'up').map(([peer]) => peer));
  }

  get watched(): number {
    return this.peers.size;
  }
}
