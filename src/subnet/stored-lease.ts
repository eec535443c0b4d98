/**
 * Turning one stored key/value under `<prefix>/subnets/` into a lease, or into a MalformedEntry saying exactly
 * what is wrong with it. Shared by every Registry implementation so that they parse alike.
 */
import { decodeLeaseAttrs, type Lease } from '../lease/lease.js';
import type { LeaseEvent } from '../lease/lease-tracker.js';
import { parseSubnetKey } from '../lease/subnet-key.js';
import { errorMessage } from '../support/errors.js';
import type { MalformedEntry } from './registry.js';

export type StoredLeaseResult = { readonly lease: Lease } | { readonly malformed: MalformedEntry };

export function parseStoredLease(key: string, value: string, expiresAtMs: number | undefined, createRevision?: bigint): StoredLeaseResult {
  const pair = parseSubnetKey(key);
  if (!pair) return { malformed: { key, reason: 'key is not a subnet key (want a.b.c.d-len[&ipv6-len])' } };
  try {
    const attrs = decodeLeaseAttrs(value);
    const { subnet, ipv6Subnet } = pair;
    // Named fields first, optional ones after: a literal that starts with a spread gets a hidden class of its
    // own per object in Node 20's V8 (~300 bytes each; see test/unit/hidden-classes.test.ts).
    const lease: Lease = {
      subnet,
      ...(ipv6Subnet ? { ipv6Subnet } : {}),
      attrs,
      ...(expiresAtMs === undefined ? {} : { expiresAtMs }),
      ...(createRevision === undefined ? {} : { createRevision }),
    };
    return { lease };
  } catch (error) {
    return { malformed: { key, reason: errorMessage(error) } };
  }
}

export function subnetsPrefix(prefix: string): string {
  return joinKey(prefix, 'subnets') + '/';
}

/** Go path.Join semantics for etcd keys: one slash between parts, no trailing slash. */
export function joinKey(...parts: string[]): string {
  const joined = parts.join('/').replace(/\/+/g, '/');
  return joined.length > 1 ? joined.replace(/\/$/, '') : joined;
}

/**
 * One watched change (value undefined = deleted) appended as a LeaseEvent, or as a MalformedEntry when its key
 * or value cannot be a lease. A malformed entry never becomes a removal: the last good value stays in use.
 */
export function collectChange(
  key: string,
  value: string | undefined,
  expiresAtMs: number | undefined,
  events: LeaseEvent[],
  malformed: MalformedEntry[],
  createRevision?: bigint,
): void {
  if (value === undefined) {
    const pair = parseSubnetKey(key);
    if (pair) events.push({ type: 'removed', ...pair });
    else malformed.push({ key, reason: 'key is not a subnet key' });
    return;
  }
  const parsed = parseStoredLease(key, value, expiresAtMs, createRevision);
  if ('lease' in parsed) events.push({ type: 'added', lease: parsed.lease });
  else malformed.push(parsed.malformed);
}
