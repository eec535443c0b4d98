/**
 * An index of pairwise-disjoint prefixes (IPv4 and IPv6) by owner, answering "which owners hold a prefix that
 * overlaps this one?" without scanning every prefix: at 5,000 leases an overlap check per lease event must not
 * cost O(leases), or a snapshot costs O(leases²).
 *
 * Two prefixes overlap when one contains the other. Containers of a prefix are found by masking it to each
 * prefix length in use (exact lookups); prefixes inside it by a count of owners under each (length, ancestor)
 * pair, kept for the lengths in use. In practice one length is in use (SubnetLen; others are rejected before
 * they get here), so a query is a couple of map lookups. A length seen for the first time costs one pass over
 * the index, at most once per length (33 + 129 of them). Pure.
 */
import { Cidr, type IpFamily } from '../net/ip.js';

interface Entry<K> {
  readonly owner: K;
  readonly prefix: Cidr;
}

export class PrefixOwners<K> {
  /** Masked prefix text → its entry. */
  private readonly entries = new Map<string, Entry<K>>();
  /** Prefix lengths in use or asked about, ascending, per family. */
  private readonly lengths: Record<IpFamily, number[]> = { 4: [], 6: [] };
  /** Ancestor prefix text (at a tracked length) → owners of longer prefixes inside it. */
  private readonly inside = new Map<string, Set<K>>();

  get size(): number {
    return this.entries.size;
  }

  /** Owners whose prefix overlaps `prefix` (contains it, equals it or lies inside it). */
  overlapping(prefix: Cidr): K[] {
    const masked = prefix.masked();
    this.track(masked.family, masked.prefixLength);
    const found = new Set<K>();
    for (const length of this.lengths[masked.family]) {
      if (length > masked.prefixLength) break;
      const entry = this.entries.get(ancestor(masked, length));
      if (entry) found.add(entry.owner);
    }
    for (const owner of this.inside.get(masked.toString()) ?? []) found.add(owner);
    return [...found];
  }

  /** Adds a prefix; it must not overlap one already held (the caller resolves overlaps first). */
  add(owner: K, prefix: Cidr): void {
    const masked = prefix.masked();
    this.track(masked.family, masked.prefixLength);
    this.entries.set(masked.toString(), { owner, prefix: masked });
    for (const length of this.lengths[masked.family]) {
      if (length >= masked.prefixLength) break;
      this.addInside(ancestor(masked, length), owner);
    }
  }

  /** Removes the prefix if `owner` holds it. */
  remove(owner: K, prefix: Cidr): void {
    const masked = prefix.masked();
    const text = masked.toString();
    if (this.entries.get(text)?.owner !== owner) return;
    this.entries.delete(text);
    for (const length of this.lengths[masked.family]) {
      if (length >= masked.prefixLength) break;
      const key = ancestor(masked, length);
      const owners = this.inside.get(key);
      owners?.delete(owner);
      if (owners?.size === 0) this.inside.delete(key);
    }
  }

  /** Starts keeping `inside` counts for a new length: one pass over the entries of that family. */
  private track(family: IpFamily, length: number): void {
    const lengths = this.lengths[family];
    if (lengths.includes(length)) return;
    lengths.push(length);
    lengths.sort((a, b) => a - b);
    for (const { owner, prefix } of this.entries.values()) {
      if (prefix.family === family && prefix.prefixLength > length) this.addInside(ancestor(prefix, length), owner);
    }
  }

  private addInside(key: string, owner: K): void {
    const owners = this.inside.get(key);
    if (owners) owners.add(owner);
    else this.inside.set(key, new Set([owner]));
  }
}

/** The prefix of `length` that contains `prefix` (`length` ≤ its own), as text. */
function ancestor(prefix: Cidr, length: number): string {
  return length === prefix.prefixLength ? prefix.toString() : Cidr.of(prefix.ip, length).masked().toString();
}
