/**
 * Turns the daemon's current peer set into the few route changes the data-path worker must apply: the owner
 * hands over the whole set after every lease change, this remembers what the worker already has and yields
 * only the difference, so one lease event costs the worker O(that peer) and never a table rebuild.
 */
import type { Cidr, IpAddress } from '../../net/ip.js';

/** A peer as the udp backend sees it: its lease subnet and public IPv4 address. */
export interface UdpPeer {
  readonly subnet: Cidr;
  readonly publicIp: IpAddress;
  /** The peer's UDP port; upstream always sends to its own configured Port, so that is the default. */
  readonly port?: number;
}

/** One route as the worker stores it (numbers in network order, see ipv4-packet.ts). */
export interface RouteEntry {
  readonly network: number;
  readonly prefixLength: number;
  readonly address: number;
  readonly port: number;
}

export interface RouteChanges {
  readonly set: readonly RouteEntry[];
  readonly remove: ReadonlyArray<Pick<RouteEntry, 'network' | 'prefixLength'>>;
}

export interface PeerRouteUpdate {
  readonly changes: RouteChanges;
  /** Peers left out, each with the reason (e.g. an IPv6 public IP); the rest are applied. */
  readonly problems: readonly string[];
}

export class PeerRoutes {
  readonly #current = new Map<string, RouteEntry>();

  constructor(private readonly defaultPort: number) {}

  /** Replaces the remembered set with `peers` and returns what changed. Never throws on a bad peer. */
  replace(peers: readonly UdpPeer[]): PeerRouteUpdate {
    const next = new Map<string, RouteEntry>();
    const problems: string[] = [];
    for (const peer of peers) {
      const entry = this.#entryOf(peer, problems);
      if (!entry) continue;
      const key = `${entry.network}/${entry.prefixLength}`;
      const clash = next.get(key);
      if (clash && (clash.address !== entry.address || clash.port !== entry.port)) {
        problems.push(`subnet ${peer.subnet.toString()} is claimed by two peers; keeping the first (${formatAddress(clash.address)})`);
        continue;
      }
      next.set(key, entry);
    }
    const set: RouteEntry[] = [];
    const remove: Array<Pick<RouteEntry, 'network' | 'prefixLength'>> = [];
    for (const [key, entry] of next) {
      const previous = this.#current.get(key);
      if (!previous || previous.address !== entry.address || previous.port !== entry.port) set.push(entry);
    }
    for (const [key, entry] of this.#current) {
      if (!next.has(key)) remove.push({ network: entry.network, prefixLength: entry.prefixLength });
    }
    this.#current.clear();
    for (const [key, entry] of next) this.#current.set(key, entry);
    return { changes: { set, remove }, problems };
  }

  /** Everything remembered, as changes from an empty table (for a worker that starts over). */
  all(): RouteChanges {
    return { set: [...this.#current.values()], remove: [] };
  }

  #entryOf(peer: UdpPeer, problems: string[]): RouteEntry | undefined {
    const port = peer.port ?? this.defaultPort;
    if (peer.subnet.family !== 4) problems.push(`peer subnet ${peer.subnet.toString()} is not IPv4 (udp carries IPv4 only)`);
    else if (peer.publicIp.family !== 4) problems.push(`peer ${peer.subnet.toString()} has public IP ${peer.publicIp.toString()}, not IPv4`);
    else if (!Number.isInteger(port) || port < 1 || port > 65535) problems.push(`peer ${peer.subnet.toString()} has port ${String(port)}, not 1-65535`);
    else {
      const masked = peer.subnet.masked();
      return { network: Number(masked.ip.value), prefixLength: masked.prefixLength, address: Number(peer.publicIp.value), port };
    }
    return undefined;
  }
}

/** Dotted quad of a network-order number (for messages and counters views). */
export function formatAddress(address: number): string {
  return `${address >>> 24}.${(address >>> 16) & 0xff}.${(address >>> 8) & 0xff}.${address & 0xff}`;
}
