/**
 * `flannelctl leases`: the leases in the store with each one's host (public addresses, backend) and expiry,
 * and every malformed entry with the reason — as a JSON document and as a text table. Pure (the time is
 * passed in).
 */
import type { Lease } from '../lease/lease.js';
import { leaseKey } from '../lease/lease.js';
import type { MalformedEntry } from '../subnet/registry.js';
import { formatDuration } from './status-text.js';

/** When a stored lease runs out: at a time, never (a key without an etcd lease), expired, or unknown (why). */
export type LeaseExpiry =
  | { readonly state: 'at'; readonly atMs: number }
  | { readonly state: 'never' }
  | { readonly state: 'expired' }
  | { readonly state: 'unknown'; readonly reason: string };

export interface LeaseListingRecord {
  readonly key: string;
  readonly subnet: string;
  readonly ipv6Subnet: string | null;
  readonly publicIP: string | null;
  readonly publicIPv6: string | null;
  /** "" for udp and alloc, as stored. */
  readonly backendType: string;
  readonly backendData: unknown;
  readonly backendV6Data: unknown;
  readonly expiry: LeaseExpiry['state'];
  readonly expiresAt: string | null;
  readonly expiresInSeconds: number | null;
  readonly expiryError?: string;
}

export interface LeaseListingDocument {
  readonly leases: readonly LeaseListingRecord[];
  readonly malformed: readonly MalformedEntry[];
}

/** Leases in subnet order (IPv4 numerically, then IPv6); expiry looked up by lease key (missing: unknown). */
export function leaseListingDocument(
  listing: { readonly leases: readonly Lease[]; readonly malformed: readonly MalformedEntry[] },
  expiry: ReadonlyMap<string, LeaseExpiry>,
  nowMs: number,
): LeaseListingDocument {
  const ordered = [...listing.leases].sort((a, b) => a.subnet.ip.compare(b.subnet.ip) || a.subnet.prefixLength - b.subnet.prefixLength
    || (a.ipv6Subnet && b.ipv6Subnet ? a.ipv6Subnet.ip.compare(b.ipv6Subnet.ip) : 0));
  const leases = ordered.map((lease): LeaseListingRecord => {
    const key = leaseKey(lease);
    const when = expiry.get(key) ?? { state: 'unknown', reason: 'not looked up' };
    const publicIP = lease.attrs.publicIP.isUnspecified() ? null : lease.attrs.publicIP.toString();
    return {
      key, subnet: lease.subnet.toString(), ipv6Subnet: lease.ipv6Subnet?.toString() ?? null,
      publicIP, publicIPv6: lease.attrs.publicIPv6?.toString() ?? null,
      backendType: lease.attrs.backendType, backendData: lease.attrs.backendData ?? null, backendV6Data: lease.attrs.backendV6Data ?? null,
      expiry: when.state,
      expiresAt: when.state === 'at' ? new Date(when.atMs).toISOString() : null,
      expiresInSeconds: when.state === 'at' ? Math.max(0, Math.round((when.atMs - nowMs) / 1000)) : null,
      ...(when.state === 'unknown' ? { expiryError: when.reason } : {}),
    };
  });
  return { leases, malformed: [...listing.malformed].sort((a, b) => a.key.localeCompare(b.key)) };
}

/** A column per field (IPv6 columns only when some lease has IPv6), then one MALFORMED line per bad entry. */
export function renderLeaseListingText(document: LeaseListingDocument): string {
  const ipv6 = document.leases.some((lease) => lease.ipv6Subnet !== null || lease.publicIPv6 !== null);
  const header = ['SUBNET', ...(ipv6 ? ['IPV6 SUBNET'] : []), 'PUBLIC IP', ...(ipv6 ? ['PUBLIC IPV6'] : []), 'BACKEND', 'EXPIRES'];
  const rows = document.leases.map((lease) => [
    lease.subnet === '0.0.0.0/0' ? '-' : lease.subnet,
    ...(ipv6 ? [lease.ipv6Subnet ?? '-'] : []),
    lease.publicIP ?? '-',
    ...(ipv6 ? [lease.publicIPv6 ?? '-'] : []),
    lease.backendType === '' ? '(none: udp)' : lease.backendType,
    expiryText(lease),
  ]);
  const lines: string[] = [];
  if (rows.length === 0) lines.push('no leases');
  else {
    const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] as string).length)));
    for (const row of [header, ...rows]) lines.push(row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column] as number))).join('  '));
  }
  for (const entry of document.malformed) lines.push(`MALFORMED ${entry.key}: ${entry.reason}`);
  return lines.join('\n') + '\n';
}

function expiryText(lease: LeaseListingRecord): string {
  switch (lease.expiry) {
    case 'at':
      return `in ${formatDuration(lease.expiresInSeconds ?? 0)} (${lease.expiresAt?.replace(/\.\d+Z$/, 'Z')})`;
    case 'never':
      return 'never (no etcd lease)';
    case 'expired':
      return 'expired';
    case 'unknown':
      return `unknown: ${lease.expiryError ?? ''}`;
  }
}
