import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LeaseTracker } from '../../src/lease/lease-tracker.js';
import { Cidr } from '../../src/net/ip.js';
import { lease } from '../support/fixtures.js';

describe('LeaseTracker', () => {
  it('keeps our own lease out of the peer table and reports it', () => {
    const tracker = new LeaseTracker();
    tracker.setOwn({ subnet: Cidr.parse('10.244.1.0/24') });
    const update = tracker.update({ kind: 'snapshot', leases: [lease('10.244.1.0/24', '198.18.0.11'), lease('10.244.2.0/24', '198.18.0.12')] });
    assert.deepEqual(tracker.peers().map((p) => p.subnet.toString()), ['10.244.2.0/24']);
    assert.equal(update.own.length, 1);
    assert.equal(update.own[0]?.type, 'added');
  });
  it('a snapshot without our lease reports it removed', () => {
    const tracker = new LeaseTracker();
    tracker.setOwn({ subnet: Cidr.parse('10.244.1.0/24') });
    assert.equal(tracker.update({ kind: 'snapshot', leases: [] }).own[0]?.type, 'removed');
  });
  it('a renewal with the same value is not a change; a new value is', () => {
    const tracker = new LeaseTracker();
    tracker.update({ kind: 'snapshot', leases: [lease('10.244.2.0/24', '198.18.0.12')] });
    assert.equal(tracker.update({ kind: 'events', events: [{ type: 'added', lease: lease('10.244.2.0/24', '198.18.0.12') }] }).peersChanged, false);
    assert.equal(tracker.update({ kind: 'events', events: [{ type: 'added', lease: lease('10.244.2.0/24', '198.18.0.99') }] }).peersChanged, true);
  });
  it('removes peers on events and on snapshots', () => {
    const tracker = new LeaseTracker();
    tracker.update({ kind: 'snapshot', leases: [lease('10.244.2.0/24', '198.18.0.12'), lease('10.244.3.0/24', '198.18.0.13')] });
    tracker.update({ kind: 'events', events: [{ type: 'removed', subnet: Cidr.parse('10.244.2.0/24') }] });
    assert.deepEqual(tracker.peers().map((p) => p.subnet.toString()), ['10.244.3.0/24']);
    assert.equal(tracker.update({ kind: 'snapshot', leases: [] }).peersChanged, true);
    assert.equal(tracker.peers().length, 0);
  });
  it('says which peer keys changed: added, replaced, removed; not renewed', () => {
    const tracker = new LeaseTracker();
    const first = tracker.update({ kind: 'snapshot', leases: [lease('10.244.2.0/24', '198.18.0.12'), lease('10.244.3.0/24', '198.18.0.13')] });
    assert.deepEqual(first.changed, ['10.244.2.0-24', '10.244.3.0-24']);
    const kept = tracker.get('10.244.2.0-24');
    const renewed = tracker.update({ kind: 'snapshot', leases: [lease('10.244.2.0/24', '198.18.0.12'), lease('10.244.4.0/24', '198.18.0.14')] });
    assert.deepEqual(renewed.changed, ['10.244.3.0-24', '10.244.4.0-24']);
    assert.equal(tracker.get('10.244.2.0-24'), kept, 'an unchanged lease keeps its object');
    const events = tracker.update({ kind: 'events', events: [
      { type: 'added', lease: lease('10.244.2.0/24', '198.18.0.12') },
      { type: 'added', lease: lease('10.244.2.0/24', '198.18.0.12', 'host-gw', { createRevision: 9n }) },
      { type: 'removed', subnet: Cidr.parse('10.244.4.0/24') },
    ] });
    assert.deepEqual(events.changed, ['10.244.2.0-24', '10.244.4.0-24'], 'a recreated key (new create revision) is a change');
    assert.deepEqual(tracker.setOwn({ subnet: Cidr.parse('10.244.2.0/24') }), ['10.244.2.0-24']);
  });
});
