/**
 * The incremental per-peer planner against the full plan: after any sequence of lease changes (peers come, go,
 * change, and share VTEP MACs so that one skips another), the groups and warnings kept up to date per change
 * must be exactly those of planning every admitted peer from scratch in admission order.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { ExternalInterface } from '../../src/backend/backend.js';
import { PeerGroupPlanner, planPeers } from '../../src/backend/peer-group-planner.js';
import { createVxlanBackend } from '../../src/backend/vxlan/vxlan-backend.js';
import { DesiredGroups } from '../../src/dataplane/desired-groups.js';
import type { Lease } from '../../src/lease/lease.js';
import { Cidr, IpAddress } from '../../src/net/ip.js';
import { config, lease } from '../support/fixtures.js';

const ext: ExternalInterface = {
  linkIndex: 2, name: 'eth0', mtu: 1500, ifaceAddr: Cidr.parse('198.18.0.11/24'), extAddr: IpAddress.parse('198.18.0.11'), prefixes: [Cidr.parse('198.18.0.0/24')],
  ifaceV6Addr: Cidr.parse('fd00:198::11/64'), extV6Addr: IpAddress.parse('fd00:198::11'),
};
// Dual stack: a peer holds two exclusive keys (a VTEP MAC per device), so one can be skipped for one key while
// it would win the other — the case where an earlier-admitted peer takes a key back from a later holder.
const backend = createVxlanBackend({ config: config({ Backend: { Type: 'vxlan' }, EnableIPv6: true, IPv6Network: 'fd00:10:244::/56' }), externalInterface: ext });
const planning = backend.peerPlanning as NonNullable<typeof backend.peerPlanning>;
const own = lease('10.244.1.0/24', '198.18.0.11', 'vxlan');

/**
 * Peer `peer` publishing MAC number `mac` % 10 on flannel.1 and `mac` / 10 on flannel-v6.1 (few MACs for many
 * peers: clashes are common); MAC number 0 = no VtepMAC there.
 */
function peerLease(peer: number, mac: number): Lease {
  const data = (number: number) => (number === 0 ? { VNI: 1 } : { VNI: 1, VtepMAC: `02:00:00:00:00:${number.toString(16).padStart(2, '0')}` });
  return {
    subnet: Cidr.parse(`10.244.${2 + peer}.0/24`), ipv6Subnet: Cidr.parse(`fd00:10:244:${2 + peer}::/64`),
    attrs: { publicIP: IpAddress.parse(`203.0.113.${20 + peer}`), publicIPv6: IpAddress.parse(`fd00:203::${20 + peer}`), backendType: 'vxlan', backendData: data(mac % 10), backendV6Data: data(Math.floor(mac / 10)) },
  };
}

type Change = { readonly peer: number; readonly mac: number | undefined };
const macArb = fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 })).map(([v4, v6]) => v4 + 10 * v6);
const changeArb: fc.Arbitrary<Change> = fc.record({ peer: fc.integer({ min: 0, max: 7 }), mac: fc.option(macArb, { nil: undefined }) });

function check(batches: readonly (readonly Change[])[]): void {
  const planner = new PeerGroupPlanner(planning, new DesiredGroups());
  /** Admitted leases in admission order (a changed lease goes last, as PeerAdmission re-admits it). */
  const admitted = new Map<string, Lease>();
  const leases = new Map<string, Lease>();
  const leaseOf = (peer: number, mac: number) => {
    const id = `${peer}/${mac}`;
    if (!leases.has(id)) leases.set(id, peerLease(peer, mac));
    return leases.get(id) as Lease;
  };
  for (const batch of batches) {
    const changes = batch.map(({ peer, mac }) => [`k${peer}`, mac === undefined ? undefined : leaseOf(peer, mac)] as const);
    for (const [key, value] of changes) {
      if (admitted.get(key) === value) continue;
      admitted.delete(key);
      if (value) admitted.set(key, value);
    }
    planner.update(changes);
    const full = planPeers(planning, own, [...admitted.values()]);
    assert.deepEqual(new Set(planner.groups), new Set(full.groups), 'the same groups');
    assert.deepEqual(planner.warnings().sort(), [...full.warnings].sort(), 'the same warnings');
  }
}

describe('PeerGroupPlanner: incremental equals full', () => {
  it('random lease changes in batches, with shared VTEP MACs', () => {
    fc.assert(fc.property(fc.array(fc.array(changeArb, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 25 }), check), { numRuns: 500 });
  });
  const scenarios: Array<[string, Change[][]]> = [
    ['a peer skipped for a MAC takes it when the holder leaves', [[{ peer: 0, mac: 1 }, { peer: 1, mac: 1 }], [{ peer: 0, mac: undefined }]]],
    ['the holder changing its MAC frees the old one for the peer it skipped', [[{ peer: 0, mac: 1 }], [{ peer: 1, mac: 1 }], [{ peer: 0, mac: 2 }]]],
    ['a changed holder keeping its MAC loses it to the earlier-admitted peer it skipped', [[{ peer: 0, mac: 1 }, { peer: 1, mac: 1 }], [{ peer: 0, mac: 3 }], [{ peer: 0, mac: 1 }]]],
    ['three claimants: the earliest remaining wins each time', [[{ peer: 0, mac: 1 }, { peer: 1, mac: 1 }, { peer: 2, mac: 1 }], [{ peer: 0, mac: undefined }], [{ peer: 1, mac: undefined }]]],
    // Peer 1 (v4 MAC 1, v6 MAC 2) is skipped for peer 0's v4 MAC; peer 2 then takes v6 MAC 2. When peer 0
    // leaves, peer 1 (admitted before peer 2) wins both its MACs, and peer 2 is skipped.
    ['an earlier peer freed of one clash takes its other key back from a later holder', [[{ peer: 0, mac: 1 }, { peer: 1, mac: 21 }, { peer: 2, mac: 23 }], [{ peer: 0, mac: undefined }]]],
  ];
  for (const [name, batches] of scenarios) it(name, () => check(batches));
  it('one change touches only that peer\'s group', () => {
    const planner = new PeerGroupPlanner(planning);
    planner.update(Array.from({ length: 50 }, (_, peer) => [`k${peer}`, peerLease(peer, 0)] as const));
    const seen = planner.groups.version;
    planner.update([['k7', peerLease(7, 3)]]);
    const changes = planner.groups.changesSince(seen);
    assert.equal(changes?.added.length, 1);
    assert.equal(changes?.removed.length, 0, 'peer 7 had no entries without a VtepMAC');
    assert.equal(planner.groups.size, 1);
  });
});

describe('PeerGroupPlanner when planning a peer throws', () => {
  it('is left as it was, and the same changes applied again end where a full plan would', () => {
    let failOn: Lease | undefined;
    const flaky = { ...planning, planPeer: (peer: Lease) => {
      if (peer === failOn) throw new Error('planner bug');
      return planning.planPeer(peer);
    } };
    const planner = new PeerGroupPlanner(flaky);
    const [a, b, c] = [peerLease(0, 1), peerLease(1, 1), peerLease(2, 2)];
    planner.update([['k0', a], ['k1', b]]);
    const before = new Set(planner.groups);
    // k0 leaves (freeing MAC 1 for k1) and k2 comes, whose planning throws: nothing may have happened.
    failOn = c;
    assert.throws(() => planner.update([['k0', undefined], ['k2', c]]), /planner bug/);
    assert.deepEqual(new Set(planner.groups), before);
    failOn = undefined;
    planner.update([['k0', undefined], ['k2', c]]);
    const full = planPeers(planning, own, [b, c]);
    assert.deepEqual(new Set(planner.groups), new Set(full.groups));
    assert.deepEqual(planner.warnings().sort(), [...full.warnings].sort());
  });
});
