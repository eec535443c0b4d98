/**
 * The udp data path's peer table: which peer (public IP and port) carries a destination subnet, and which
 * source addresses may send us datagrams. Leases of one network all share its SubnetLen, so a lookup is one
 * Map probe by the destination masked to that length; the table keeps one Map per prefix length in use and
 * tries the longest first, so mixed lengths still work (and still cost O(lengths), not O(peers)). Upstream
 * scans a list with move-to-front.
 *
 * Addresses are unsigned 32-bit numbers in network order (see ipv4-packet.ts). Not thread-safe: the worker
 * that forwards packets owns it and applies peer changes between batches.
 */

import type { RouteChanges } from './peer-routes.js';

/** Where packets for a subnet go: a peer's public IPv4 address and UDP port. */
export interface NextHop {
  readonly address: number;
  readonly port: number;
}

interface PrefixGroup {
  readonly prefixLength: number;
  readonly mask: number;
  readonly routes: Map<number, NextHop>;
}

export function prefixMask(prefixLength: number): number {
  // `x << 32` is `x << 0` in JavaScript, so /0 needs its own case.
  return prefixLength === 0 ? 0 : (0xffffffff << (32 - prefixLength)) >>> 0;
}

export class UdpRouteTable {
  /** Longest prefix first. */
  #groups: PrefixGroup[] = [];
  /** Peer public address → number of routes through it (the source filter). */
  readonly #sources = new Map<number, number>();
  #size = 0;

  get size(): number {
    return this.#size;
  }

  /** Adds or replaces the route for `network/prefixLength` (host bits are ignored, as upstream masks them). */
  set(network: number, prefixLength: number, nextHop: NextHop): void {
    const group = this.#group(prefixLength, true) as PrefixGroup;
    const key = (network & group.mask) >>> 0;
    const previous = group.routes.get(key);
    if (previous) this.#release(previous.address);
    else this.#size++;
    group.routes.set(key, nextHop);
    this.#sources.set(nextHop.address, (this.#sources.get(nextHop.address) ?? 0) + 1);
  }

  /** Applies changes computed by PeerRoutes: removals first, then additions and replacements. */
  apply(changes: RouteChanges): void {
    for (const entry of changes.remove) this.delete(entry.network, entry.prefixLength);
    for (const entry of changes.set) this.set(entry.network, entry.prefixLength, { address: entry.address, port: entry.port });
  }

  /** Removes the route for `network/prefixLength`; false when there was none. */
  delete(network: number, prefixLength: number): boolean {
    const group = this.#group(prefixLength, false);
    if (!group) return false;
    const key = (network & group.mask) >>> 0;
    const previous = group.routes.get(key);
    if (!previous) return false;
    group.routes.delete(key);
    this.#release(previous.address);
    this.#size--;
    if (group.routes.size === 0) this.#groups = this.#groups.filter((candidate) => candidate !== group);
    return true;
  }

  /** The next hop for a destination address, or undefined (no route: the sender gets ICMP net unreachable). */
  lookup(destination: number): NextHop | undefined {
    const groups = this.#groups;
    for (let index = 0; index < groups.length; index++) {
      const group = groups[index] as PrefixGroup;
      const hop = group.routes.get((destination & group.mask) >>> 0);
      if (hop) return hop;
    }
    return undefined;
  }

  /** True when `address` is the public address of a current peer (datagrams from anyone else are dropped). */
  isPeerSource(address: number): boolean {
    return this.#sources.has(address);
  }

  #group(prefixLength: number, create: boolean): PrefixGroup | undefined {
    const found = this.#groups.find((group) => group.prefixLength === prefixLength);
    if (found || !create) return found;
    const group: PrefixGroup = { prefixLength, mask: prefixMask(prefixLength), routes: new Map() };
    this.#groups = [...this.#groups, group].sort((a, b) => b.prefixLength - a.prefixLength);
    return group;
  }

  #release(address: number): void {
    const count = this.#sources.get(address) ?? 0;
    if (count <= 1) this.#sources.delete(address);
    else this.#sources.set(address, count - 1);
  }
}
