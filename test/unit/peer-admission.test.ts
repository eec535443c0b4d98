import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { NetworkConfig } from '../../src/config/network-config.js';
import { type Lease, leaseKey } from '../../src/lease/lease.js';
import { type PeerCheckContext, checkPeerLease } from '../../src/lease/lease-validation.js';
import { PeerAdmission } from '../../src/lease/peer-admission.js';
import { PrefixOwners } from '../../src/lease/prefix-owners.js';
import { Cidr, IpAddress } from '../../src/net/ip.js';
import { config } from '../support/fixtures.js';

const dual = config({ EnableIPv6: true, IPv6Network: 'fd00:10:244::/56' });
const kube: NetworkConfig = { ...dual, subnetLen: 0, ipv6SubnetLen: 0 };

function lease(v4: string, v6?: string, extra: { ip?: number; createRevision?: bigint } = {}): Lease {
  return {
    subnet: Cidr.parse(v4), ...(v6 ? { ipv6Subnet: Cidr.parse(v6) } : {}),
    attrs: { publicIP: IpAddress.parse(`198.18.0.${extra.ip ?? 50}`), backendType: 'host-gw' },
    ...(extra.createRevision === undefined ? {} : { createRevision: extra.createRevision }),
  };
}
const ownLease = lease('10.244.1.0/24', 'fd00:10:244:1::/64', { ip: 11 });
const context = (networkConfig: NetworkConfig = dual): PeerCheckContext => ({ config: networkConfig, ownPublicIPs: [IpAddress.parse('198.18.0.11')] });
const entry = (item: Lease): [string, Lease] => [leaseKey(item), item];
const admittedKeys = (admission: PeerAdmission) => admission.peers().map(leaseKey).sort();

describe('PeerAdmission', () => {
  it('rejects a lease overlapping ours (ours always wins), once, and checks it again when our subnet changes', () => {
    const admission = new PeerAdmission(context());
    admission.setOwn(ownLease);
    const intruder = lease('10.244.1.0/24', 'fd00:10:244:9::/64', { ip: 20 });
    const first = admission.update([entry(intruder)]);
    assert.deepEqual(first.rejected.map((r) => `${r.key} ${r.problem.field} ${r.problem.value}: ${r.problem.reason}`),
      ['10.244.1.0-24&fd00:10:244:9::-64 subnet 10.244.1.0/24: overlaps our subnet 10.244.1.0/24 and fd00:10:244:1::/64']);
    assert.equal(first.changed, false);
    assert.equal(admission.update([entry({ ...intruder })]).rejected.length, 0, 'the same rejection is reported once');
    assert.equal(admission.rejectionsReported, 1);
    const moved = admission.setOwn(lease('10.244.2.0/24', 'fd00:10:244:2::/64', { ip: 11 }));
    assert.deepEqual([moved.changed, moved.readmitted], [true, ['10.244.1.0-24&fd00:10:244:9::-64']]);
    assert.equal(admission.rejectedNow, 0);
  });
  it('a peer admitted before our lease moved onto its subnet is evicted', () => {
    const admission = new PeerAdmission(context());
    admission.setOwn(ownLease);
    admission.update([entry(lease('10.244.2.0/24', 'fd00:10:244:2::/64', { ip: 12 }))]);
    const report = admission.setOwn(lease('10.244.2.0/24', 'fd00:10:244:3::/64', { ip: 11 }));
    assert.equal(report.changed, true);
    assert.equal(admission.peers().length, 0);
    assert.match(report.rejected[0]?.problem.reason ?? '', /overlaps our subnet/);
  });
  it('between two peers the one held longer wins (create revision), whatever the order they arrive in', () => {
    const older = lease('10.244.5.0/24', 'fd00:10:244:5::/64', { ip: 15, createRevision: 10n });
    const younger = lease('10.244.5.0/24', 'fd00:10:244:6::/64', { ip: 16, createRevision: 20n });
    for (const order of [[older, younger], [younger, older]]) {
      const admission = new PeerAdmission(context());
      admission.setOwn(ownLease);
      for (const item of order) admission.update([entry(item)]);
      assert.deepEqual(admittedKeys(admission), [leaseKey(older)]);
      const gone = admission.update([[leaseKey(older), undefined]]);
      assert.deepEqual([admittedKeys(admission), gone.readmitted], [[leaseKey(younger)], [leaseKey(younger)]], 'the loser comes back when the winner leaves');
    }
  });
  it('without create revisions the one seen first wins; an overlap in IPv6 alone counts', () => {
    const admission = new PeerAdmission(context());
    admission.setOwn(ownLease);
    const first = lease('10.244.5.0/24', 'fd00:10:244:5::/64', { ip: 15 });
    const second = lease('10.244.6.0/24', 'fd00:10:244:5::/64', { ip: 16 });
    admission.update([entry(first)]);
    const report = admission.update([entry(second)]);
    assert.deepEqual(report.rejected.map((r) => `${r.problem.field} ${r.problem.value}: ${r.problem.reason}`),
      [`ipv6Subnet fd00:10:244:5::/64: overlaps ${leaseKey(first)} (held longer)`]);
  });
  it('Kubernetes mode (no SubnetLen): nested prefixes overlap; an older /23 evicts two /24s, which return when it leaves', () => {
    const admission = new PeerAdmission(context(kube));
    admission.setOwn(ownLease);
    const a = lease('10.244.4.0/24', undefined, { ip: 14, createRevision: 5n });
    const b = lease('10.244.5.0/24', undefined, { ip: 15, createRevision: 6n });
    const wide = lease('10.244.4.0/23', undefined, { ip: 16, createRevision: 1n });
    admission.update([entry(a), entry(b)]);
    const report = admission.update([entry(wide)]);
    assert.deepEqual(admittedKeys(admission), [leaseKey(wide)]);
    assert.equal(report.rejected.length, 2);
    admission.update([[leaseKey(wide), undefined]]);
    assert.deepEqual(admittedKeys(admission), [leaseKey(a), leaseKey(b)]);
  });
  it('a lease fixed in place keeps its age: it evicts a younger one, and what that one was blocking comes back', () => {
    const admission = new PeerAdmission(context());
    admission.setOwn(ownLease);
    const k = lease('10.244.4.0/24', 'fd00:10:244:4::/64', { ip: 11, createRevision: 1n });
    const o = lease('10.244.4.0/24', 'fd00:10:244:5::/64', { ip: 15, createRevision: 2n });
    const r = lease('10.244.6.0/24', 'fd00:10:244:5::/64', { ip: 16, createRevision: 3n });
    admission.update([entry(k), entry(o), entry(r)]);
    assert.deepEqual(admittedKeys(admission), [leaseKey(o)], 'k carries our public IP; r overlaps o in IPv6');
    const fixed = admission.update([entry({ ...k, attrs: { ...k.attrs, publicIP: IpAddress.parse('198.18.0.14') } })]);
    assert.deepEqual(admittedKeys(admission), [leaseKey(k), leaseKey(r)], 'k is older than o; r overlaps o only');
    assert.deepEqual([...fixed.readmitted].sort(), [leaseKey(k), leaseKey(r)].sort());
  });
  it('reports a changed reason again, and forgets a removed lease', () => {
    const admission = new PeerAdmission(context());
    admission.setOwn(ownLease);
    const bad = { ...lease('10.244.9.0/24'), attrs: { publicIP: IpAddress.parse('127.0.0.1'), backendType: 'host-gw' } };
    assert.equal(admission.update([entry(bad)]).rejected.length, 1);
    assert.equal(admission.update([[leaseKey(bad), { ...bad, attrs: { ...bad.attrs, publicIP: IpAddress.parse('224.0.0.1') } }]]).rejected.length, 1);
    admission.update([[leaseKey(bad), undefined]]);
    assert.equal(admission.rejectedNow, 0);
    assert.equal(admission.update([entry(bad)]).rejected.length, 1, 'a lease that comes back is reported again');
  });
});

/**
 * Property: after any sequence of lease changes, the admitted set is what a greedy pass computes from scratch:
 * statically valid leases not overlapping ours, taken in held-longer order, each admitted unless it overlaps
 * one admitted before it.
 */
describe('PeerAdmission property', () => {
  const v4Choices = ['10.244.1.0/24', '10.244.2.0/24', '10.244.3.0/24', '10.244.2.0/23', '10.244.0.0/22', '10.244.3.0/25', '10.99.0.0/24'];
  const v6Choices = [undefined, 'fd00:10:244:1::/64', 'fd00:10:244:2::/64', 'fd00:10:244:2::/63'];
  const leaseArbitrary = fc.record({ v4: fc.constantFrom(...v4Choices), v6: fc.constantFrom(...v6Choices), ip: fc.constantFrom(11, 12, 13) }); // 11 is ours: a statically invalid value that a re-put may fix
  const opArbitrary = fc.oneof(
    fc.record({ kind: fc.constant('put' as const), lease: leaseArbitrary }),
    fc.record({ kind: fc.constant('delete' as const), pick: fc.nat() }),
    fc.record({ kind: fc.constant('own' as const), v4: fc.constantFrom(...v4Choices.slice(0, 3)) }),
  );
  for (const [name, networkConfig] of [['with SubnetLen', dual], ['Kubernetes mode', kube]] as const) {
    it(`matches a greedy model (${name})`, () => {
      fc.assert(fc.property(fc.array(opArbitrary, { maxLength: 25 }), fc.boolean(), (ops, withRevisions) => {
        const checks = context(networkConfig);
        const admission = new PeerAdmission(checks);
        let own = ownLease;
        admission.setOwn(own);
        const candidates = new Map<string, Lease>();
        const seen = new Map<string, number>();
        let sequence = 0;
        let revision = 1n;
        for (const op of ops) {
          if (op.kind === 'own') {
            own = lease(op.v4, undefined, { ip: 11 });
            admission.setOwn(own);
          } else if (op.kind === 'put') {
            const item = lease(op.lease.v4, op.lease.v6, { ip: op.lease.ip, ...(withRevisions ? { createRevision: revision++ } : {}) });
            const key = leaseKey(item);
            if (key === leaseKey(own)) continue;
            const previous = candidates.get(key);
            const kept = previous?.createRevision === undefined ? item : { ...item, createRevision: previous.createRevision };
            candidates.set(key, kept);
            if (!seen.has(key)) seen.set(key, sequence++);
            admission.update([[key, kept]]);
          } else {
            const keys = [...candidates.keys()];
            if (keys.length === 0) continue;
            const key = keys[op.pick % keys.length] as string;
            candidates.delete(key);
            seen.delete(key);
            admission.update([[key, undefined]]);
          }
          const prefixes = (item: Lease) => [item.subnet, ...(item.ipv6Subnet ? [item.ipv6Subnet] : [])];
          const overlap = (x: Lease, y: Lease) => prefixes(x).some((p) => prefixes(y).some((q) => p.overlaps(q)));
          const order = (key: string) => [candidates.get(key)?.createRevision ?? BigInt(Number.MAX_SAFE_INTEGER), BigInt(seen.get(key) ?? 0)] as const;
          const sorted = [...candidates.keys()].sort((a, b) => {
            const [x, y] = [order(a), order(b)];
            return x[0] !== y[0] ? (x[0] < y[0] ? -1 : 1) : x[1] !== y[1] ? (x[1] < y[1] ? -1 : 1) : a < b ? -1 : 1;
          });
          const greedy: Lease[] = [];
          for (const key of sorted) {
            const item = candidates.get(key) as Lease;
            if (checkPeerLease(item, checks) || overlap(item, own) || greedy.some((other) => overlap(item, other))) continue;
            greedy.push(item);
          }
          assert.deepEqual(admittedKeys(admission), greedy.map(leaseKey).sort());
          assert.equal(admission.rejectedNow, candidates.size - greedy.length);
        }
      }), { numRuns: 400 });
    });
  }
});

describe('PrefixOwners property', () => {
  it('finds exactly the overlapping prefixes, as a scan would', () => {
    const prefixArbitrary = fc.tuple(fc.integer({ min: 0, max: 15 }), fc.integer({ min: 20, max: 26 }), fc.boolean())
      .map(([third, length, v6]) => (v6 ? Cidr.of(IpAddress.parse(`fd00:0:0:${third.toString(16)}::`), length + 40) : Cidr.of(IpAddress.parse(`10.244.${third * 4}.0`), length)).masked());
    fc.assert(fc.property(fc.array(fc.tuple(fc.boolean(), prefixArbitrary, prefixArbitrary), { maxLength: 40 }), (ops) => {
      const index = new PrefixOwners<string>();
      const held = new Map<string, Cidr>();
      for (const [remove, prefix, query] of ops) {
        const text = prefix.toString();
        if (remove) {
          index.remove(text, prefix);
          held.delete(text);
        } else if (![...held.values()].some((other) => other.overlaps(prefix))) {
          index.add(text, prefix);
          held.set(text, prefix);
        }
        const expected = [...held.entries()].filter(([, other]) => other.overlaps(query)).map(([owner]) => owner).sort();
        assert.deepEqual(index.overlapping(query).sort(), expected);
        assert.equal(index.size, held.size);
      }
    }), { numRuns: 400 });
  });
});
