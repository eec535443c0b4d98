/**
 * What changed in the set of admitted peers between two moments, for the log: peers added, removed, and
 * changed with what changed (public IP, backend type, a BackendData field such as VtepMAC). Pure; a lease
 * re-sent with the same attributes (a renewal) is no change. Remembers the set it last reported.
 */
import { type Lease, encodeLeaseAttrs, leaseKey } from '../lease/lease.js';

export type PeerChange =
  | { readonly kind: 'added'; readonly lease: Lease }
  | { readonly kind: 'removed'; readonly lease: Lease }
  | { readonly kind: 'changed'; readonly lease: Lease; readonly changes: readonly string[] };

export class PeerChanges {
  private known = new Map<string, Lease>();

  /** The changes for `changes` (by key: the admitted lease now, or undefined when gone): O(changes). */
  apply(changes: Iterable<readonly [string, Lease | undefined]>): PeerChange[] {
    const out: PeerChange[] = [];
    for (const [key, lease] of changes) {
      const previous = this.known.get(key);
      if (previous === lease) continue;
      if (!lease) {
        this.known.delete(key);
        if (previous) out.push({ kind: 'removed', lease: previous });
        continue;
      }
      this.known.set(key, lease);
      if (!previous) out.push({ kind: 'added', lease });
      else {
        const differences = leaseDifferences(previous, lease);
        if (differences.length > 0) out.push({ kind: 'changed', lease, changes: differences });
      }
    }
    return out;
  }

  /** The changes from the set given last time to `peers`, keyed by subnet (O(peers)); do not mix with `apply`'s keys. */
  update(peers: readonly Lease[]): PeerChange[] {
    const next = new Map(peers.map((lease) => [leaseKey(lease), lease] as const));
    const gone = [...this.known.keys()].filter((key) => !next.has(key)).map((key) => [key, undefined] as const);
    const changes = this.apply(next);
    // Removals last, as before: a log reads added/changed first.
    return [...changes, ...this.apply(gone)];
  }
}

/** `PublicIP 198.18.0.12 → 198.18.0.22`, `BackendData.VtepMAC 02:… → 02:…`, … (empty: the same lease). */
export function leaseDifferences(before: Lease, after: Lease): string[] {
  if (encodeLeaseAttrs(before.attrs) === encodeLeaseAttrs(after.attrs)) return [];
  const differences: string[] = [];
  const compare = (name: string, was: unknown, is: unknown) => {
    const [a, b] = [show(was), show(is)];
    if (a !== b) differences.push(`${name} ${a} → ${b}`);
  };
  compare('PublicIP', before.attrs.publicIP.toString(), after.attrs.publicIP.toString());
  compare('PublicIPv6', before.attrs.publicIPv6?.toString(), after.attrs.publicIPv6?.toString());
  compare('BackendType', before.attrs.backendType, after.attrs.backendType);
  for (const [name, was, is] of [['BackendData', before.attrs.backendData, after.attrs.backendData], ['BackendV6Data', before.attrs.backendV6Data, after.attrs.backendV6Data]] as const) {
    if (isRecord(was) && isRecord(is)) {
      for (const field of new Set([...Object.keys(was), ...Object.keys(is)])) compare(`${name}.${field}`, was[field], is[field]);
    } else compare(name, was, is);
  }
  return differences;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A value for a log line: strings bare, absent as "none", anything else as JSON cut at 80 characters. */
function show(value: unknown): string {
  if (value === undefined || value === null) return 'none';
  if (typeof value === 'string') return value === '' ? '""' : value;
  const text = JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
