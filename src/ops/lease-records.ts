/**
 * The lease table flanneld serves on its status socket (`/leases`) for `flannelctl trace` and `doctor`, as JSON
 * records, and the client's decoding of it. Attributes travel as upstream's lease value (encodeLeaseAttrs) so
 * that decoding reuses the one lease parser, which names the field and the value of anything malformed; a
 * record that does not decode is reported, never thrown past the caller.
 */
import { type Lease, decodeLeaseAttrs, encodeLeaseAttrs, leaseKey } from '../lease/lease.js';
import { Cidr } from '../net/ip.js';
import { FlannelError, errorMessage } from '../support/errors.js';
import type { LeaseTable } from './status-document.js';

export interface LeaseRecord {
  readonly key: string;
  readonly subnet: string;
  readonly ipv6Subnet: string | null;
  /** Upstream's lease value JSON. */
  readonly attrs: string;
  readonly expiresAt: string | null;
  readonly state: 'own' | 'admitted' | 'rejected';
  readonly reason?: string;
}

export function encodeLeaseTable(table: LeaseTable): LeaseRecord[] {
  const record = (lease: Lease, state: LeaseRecord['state'], reason?: string): LeaseRecord => ({
    key: leaseKey(lease),
    subnet: lease.subnet.toString(),
    ipv6Subnet: lease.ipv6Subnet?.toString() ?? null,
    attrs: encodeLeaseAttrs(lease.attrs),
    expiresAt: lease.expiresAtMs === undefined ? null : new Date(lease.expiresAtMs).toISOString(),
    state,
    ...(reason === undefined ? {} : { reason }),
  });
  return [
    ...(table.own ? [record(table.own, 'own')] : []),
    ...table.admitted.map((lease) => record(lease, 'admitted')),
    ...table.rejected.map(({ lease, reason }) => record(lease, 'rejected', reason)),
  ];
}

/**
 * The lease table straight from the store, for when flanneld does not answer (stopped, crashed): our lease is
 * the one holding `ownSubnet` (subnet.env's FLANNEL_SUBNET), every other lease counts as admitted. flanneld's
 * admission checks (overlaps, backend data) are not applied: the store's view, not flanneld's.
 */
export function leaseTableFromStore(leases: readonly Lease[], ownSubnet: Cidr | undefined): LeaseTable {
  const own = ownSubnet && leases.find((lease) => lease.subnet.containsCidr(ownSubnet) || (lease.ipv6Subnet?.containsCidr(ownSubnet) ?? false));
  return { ...(own ? { own } : {}), admitted: leases.filter((lease) => lease !== own), rejected: [] };
}

/** Decodes `/leases`; records that do not decode are listed in `problems` with their index and reason. */
export function decodeLeaseTable(document: unknown): { table: LeaseTable; problems: string[] } {
  if (!Array.isArray(document)) throw new FlannelError('BAD_STATUS', `leases: expected a JSON array, got ${typeof document}`);
  let own: Lease | undefined;
  const admitted: Lease[] = [];
  const rejected: Array<{ lease: Lease; reason: string }> = [];
  const problems: string[] = [];
  document.forEach((entry: unknown, index) => {
    try {
      const record = entry as Partial<LeaseRecord> | null;
      if (typeof record !== 'object' || record === null) throw new Error('not an object');
      const subnet = Cidr.parse(String(record.subnet), 'subnet');
      const ipv6Subnet = record.ipv6Subnet === null || record.ipv6Subnet === undefined ? undefined : Cidr.parse(String(record.ipv6Subnet), 'ipv6Subnet');
      const expiresAtMs = typeof record.expiresAt === 'string' ? Date.parse(record.expiresAt) : undefined;
      if (expiresAtMs !== undefined && Number.isNaN(expiresAtMs)) throw new Error(`expiresAt: invalid time ${JSON.stringify(record.expiresAt)}`);
      const lease: Lease = {
        subnet, ...(ipv6Subnet ? { ipv6Subnet } : {}), attrs: decodeLeaseAttrs(String(record.attrs)), ...(expiresAtMs === undefined ? {} : { expiresAtMs }),
      };
      if (record.state === 'own') own = lease;
      else if (record.state === 'admitted') admitted.push(lease);
      else if (record.state === 'rejected') rejected.push({ lease, reason: String(record.reason ?? '') });
      else throw new Error(`state: unknown ${JSON.stringify(record.state)}`);
    } catch (error) {
      problems.push(`lease record ${index}: ${errorMessage(error)}`);
    }
  });
  return { table: { ...(own ? { own } : {}), admitted, rejected }, problems };
}
