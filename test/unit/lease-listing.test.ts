/** `flannelctl leases` document and text (ops/lease-listing.ts): order, host columns, every expiry state. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Lease } from '../../src/lease/lease.js';
import { Cidr, IpAddress } from '../../src/net/ip.js';
import { type LeaseExpiry, leaseListingDocument, renderLeaseListingText } from '../../src/ops/lease-listing.js';

const NOW = Date.parse('2025-03-01T12:00:00Z');
const lease = (subnet: string, publicIP: string, backendType: string, extra: Partial<Lease> = {}): Lease => ({
  subnet: Cidr.parse(subnet), attrs: { publicIP: IpAddress.parse(publicIP), backendType, ...(extra.attrs ?? {}) }, ...(extra.ipv6Subnet ? { ipv6Subnet: extra.ipv6Subnet } : {}),
});

describe('lease listing', () => {
  it('orders subnets numerically and shows host, backend and each expiry state', () => {
    const leases = [lease('10.244.12.0/24', '198.18.0.12', 'vxlan'), lease('10.244.3.0/24', '198.18.0.13', 'host-gw'), lease('10.244.100.0/24', '198.18.0.14', ''), lease('10.244.7.0/24', '198.18.0.15', 'vxlan')];
    const expiry = new Map<string, LeaseExpiry>([
      ['10.244.12.0-24', { state: 'at', atMs: NOW + 86_399_000 }],
      ['10.244.3.0-24', { state: 'never' }],
      ['10.244.100.0-24', { state: 'expired' }],
    ]);
    const document = leaseListingDocument({ leases, malformed: [{ key: 'zz', reason: 'bad key' }, { key: 'aa', reason: 'bad value' }] }, expiry, NOW);
    assert.equal(renderLeaseListingText(document), [
      'SUBNET           PUBLIC IP    BACKEND      EXPIRES',
      '10.244.3.0/24    198.18.0.13  host-gw      never (no etcd lease)',
      '10.244.7.0/24    198.18.0.15  vxlan        unknown: not looked up',
      '10.244.12.0/24   198.18.0.12  vxlan        in 24h00m (2025-03-02T11:59:59Z)',
      '10.244.100.0/24  198.18.0.14  (none: udp)  expired',
      'MALFORMED aa: bad value',
      'MALFORMED zz: bad key',
      '',
    ].join('\n'));
    assert.deepEqual(document.leases.map((record) => [record.expiry, record.expiresInSeconds]), [['never', null], ['unknown', null], ['at', 86_399], ['expired', null]]);
  });

  it('IPv6 columns appear when a lease has IPv6; an IPv6-only lease shows no IPv4', () => {
    const dual = lease('10.244.1.0/24', '198.18.0.11', 'vxlan', { ipv6Subnet: Cidr.parse('fd00:10:244:1::/64'), attrs: { publicIP: IpAddress.parse('198.18.0.11'), publicIPv6: IpAddress.parse('fd00:198::11'), backendType: 'vxlan' } });
    const v6only = lease('0.0.0.0/0', '0.0.0.0', 'vxlan', { ipv6Subnet: Cidr.parse('fd00:10:244:2::/64'), attrs: { publicIP: IpAddress.parse('0.0.0.0'), publicIPv6: IpAddress.parse('fd00:198::12'), backendType: 'vxlan' } });
    const text = renderLeaseListingText(leaseListingDocument({ leases: [v6only, dual], malformed: [] }, new Map([['10.244.1.0-24&fd00:10:244:1::-64', { state: 'never' }]]), NOW));
    assert.match(text, /^SUBNET +IPV6 SUBNET +PUBLIC IP +PUBLIC IPV6 +BACKEND +EXPIRES\n/);
    assert.match(text, /\n- +fd00:10:244:2::\/64 +- +fd00:198::12 +vxlan +unknown/);
    assert.match(text, /\n10\.244\.1\.0\/24 +fd00:10:244:1::\/64 +198\.18\.0\.11 +fd00:198::11 +vxlan +never/);
  });

  it('an empty store says so', () => {
    assert.equal(renderLeaseListingText(leaseListingDocument({ leases: [], malformed: [] }, new Map(), NOW)), 'no leases\n');
  });
});
