import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DesiredGroups } from '../../src/dataplane/desired-groups.js';
import { DesiredIndex } from '../../src/dataplane/desired-index.js';
import type { DesiredGroup } from '../../src/dataplane/desired-state.js';
import { FLANNEL_ROUTE_PROTOCOL, MAIN_TABLE, NUD_PERMANENT, type Neighbour, type Route, neighbourKey, routeKey } from '../../src/dataplane/kernel-objects.js';
import { Cidr, IpAddress } from '../../src/net/ip.js';
import { MacAddress } from '../../src/net/mac.js';

const links = new Map([['flannel.1', 5]]);
const resolve = (name: string) => links.get(name);

function neighbour(ip: string, mac: string): Neighbour {
  return { kind: 'neigh', linkName: 'flannel.1', ip: IpAddress.parse(ip), mac: MacAddress.parse(mac), state: NUD_PERMANENT };
}
function route(dst: string, gateway: string): Route {
  return { dst: Cidr.parse(dst), gateway: IpAddress.parse(gateway), linkName: 'flannel.1', table: MAIN_TABLE, protocol: FLANNEL_ROUTE_PROTOCOL, type: 'unicast', onlink: true };
}
const group = (neighbours: Neighbour[], routes: Route[] = []): DesiredGroup => ({ neighbours, routes });
const macOf = (index: DesiredIndex, ip: string) => index.neighbour(neighbourKey({ ...neighbour(ip, '02:00:00:00:00:00'), linkIndex: 5 }))?.mac?.toString();

describe('DesiredIndex: a slot claimed by several groups', () => {
  const peer = group([neighbour('10.244.4.0', '02:00:00:00:00:01')], [route('10.244.4.0/24', '10.244.4.0')]);
  const intruder = group([neighbour('10.244.4.0', '02:00:00:00:00:99')], [route('10.244.4.0/23', '10.244.4.0')]);

  it('falls back to the remaining claimant when the newest one leaves (regression: the departed entry stayed)', () => {
    const index = new DesiredIndex(resolve);
    index.rebuild([peer]);
    const touched = index.update([peer, intruder]);
    assert.equal(macOf(index, '10.244.4.0'), '02:00:00:00:00:99', 'newest claim wins while both exist');
    assert.equal(touched.neighbours.size, 1);
    const after = index.update([peer]);
    assert.equal(macOf(index, '10.244.4.0'), '02:00:00:00:00:01');
    assert.equal(after.neighbours.size, 1, 'the slot is reported touched so the kernel entry is rewritten');
    assert.deepEqual(index.routes().map((r) => r.dst.toString()), ['10.244.4.0/24']);
  });
  it('keeps the newest claimant when an older one leaves, and empties the slot when the last leaves', () => {
    const index = new DesiredIndex(resolve);
    index.rebuild([peer, intruder]);
    index.update([intruder]);
    assert.equal(macOf(index, '10.244.4.0'), '02:00:00:00:00:99');
    index.update([]);
    assert.equal(macOf(index, '10.244.4.0'), undefined);
    assert.equal(index.neighbours().length, 0);
  });
  it('a changed peer lease (new group object) replaces its old entry', () => {
    const index = new DesiredIndex(resolve);
    index.rebuild([peer]);
    const moved = group([neighbour('10.244.4.0', '02:00:00:00:00:02')], [route('10.244.4.0/24', '10.244.4.0')]);
    index.update([moved]);
    assert.equal(macOf(index, '10.244.4.0'), '02:00:00:00:00:02');
    assert.equal(index.routeCount, 1);
  });
});

/**
 * Property: after any sequence of plans, every slot holds the entry of the newest group (by the order groups
 * were first indexed) that still claims it, and nothing else; and every slot whose entry changed was reported.
 */
describe('DesiredIndex property', () => {
  const ips = ['10.244.1.0', '10.244.2.0', '10.244.3.0'];
  const entryArbitrary = fc.record({ ip: fc.constantFrom(...ips), mac: fc.integer({ min: 1, max: 9 }) });
  const groupArbitrary = fc.array(entryArbitrary, { minLength: 1, maxLength: 2 });
  it('matches a model of ordered claims', () => {
    fc.assert(fc.property(fc.array(fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 5 }), { minLength: 1, maxLength: 12 }), fc.array(groupArbitrary, { minLength: 6, maxLength: 6 }), (plans, shapes) => {
      const pool = shapes.map((entries) => group(entries.map((e) => neighbour(e.ip, `02:00:00:00:00:0${e.mac}`)), entries.map((e) => route(`${e.ip}/24`, e.ip))));
      const index = new DesiredIndex(resolve);
      let order: DesiredGroup[] = [];
      let first = true;
      for (const picks of plans) {
        const groups = [...new Set(picks.map((pick) => pool[pick] as DesiredGroup))];
        const before = new Map(ips.map((ip) => [ip, macOf(index, ip)]));
        const touched = first ? undefined : index.update(groups);
        if (first) index.rebuild(groups);
        first = false;
        order = [...order.filter((g) => groups.includes(g)), ...groups.filter((g) => !order.includes(g))];
        for (const ip of ips) {
          const claimants = order.filter((g) => g.neighbours.some((n) => n.ip?.toString() === ip));
          const newest = claimants[claimants.length - 1]?.neighbours.filter((n) => n.ip?.toString() === ip).at(-1)?.mac?.toString();
          assert.equal(macOf(index, ip), newest, `slot ${ip}`);
          const key = neighbourKey({ ...neighbour(ip, '02:00:00:00:00:00'), linkIndex: 5 });
          if (touched && before.get(ip) !== newest) assert.ok(touched.neighbours.has(key), `change of ${ip} reported`);
          const routeWanted = claimants.length > 0;
          assert.equal(index.route(routeKey({ ...route(`${ip}/24`, ip), linkIndex: 5 })) !== undefined, routeWanted);
        }
        assert.equal(index.neighbours().length, new Set(groups.flatMap((g) => g.neighbours.map((n) => n.ip?.toString()))).size);
      }
    }), { numRuns: 300 });
  });
});

/**
 * The incremental path: an index following a DesiredGroups (keyed groups that log their changes) catches up
 * from the log only, and must hold what the model of ordered claims says (a group set last is the newest
 * claim), report every slot it changed, and agree with an index rebuilt from scratch on which keys are wanted.
 */
describe('DesiredIndex following a DesiredGroups', () => {
  const ips = ['10.244.1.0', '10.244.2.0', '10.244.3.0'];
  const shapeArbitrary = fc.array(fc.record({ ip: fc.constantFrom(...ips), mac: fc.integer({ min: 1, max: 9 }) }), { minLength: 1, maxLength: 2 });
  const stepArbitrary = fc.array(fc.record({ key: fc.integer({ min: 0, max: 3 }), pick: fc.option(fc.integer({ min: 0, max: 5 }), { nil: undefined }) }), { maxLength: 4 });
  it('matches the model after every catch-up, reading only the changes', () => {
    fc.assert(fc.property(fc.array(stepArbitrary, { minLength: 1, maxLength: 12 }), fc.array(shapeArbitrary, { minLength: 6, maxLength: 6 }), (steps, shapes) => {
      // One object per (key, shape): a group belongs to one key (as a peer's plan does), and may come back to it.
      const objects = new Map<string, DesiredGroup>();
      const objectOf = (key: number, pick: number) => {
        const entries = shapes[pick] ?? [];
        if (!objects.has(`${key}/${pick}`)) objects.set(`${key}/${pick}`, group(entries.map((e) => neighbour(e.ip, `02:00:00:00:00:0${e.mac}`)), entries.map((e) => route(`${e.ip}/24`, e.ip))));
        return objects.get(`${key}/${pick}`) as DesiredGroup;
      };
      const groups = new DesiredGroups();
      const index = new DesiredIndex(resolve);
      index.rebuild(groups);
      /** Key → group, in the order they were set (the newest last). */
      const model = new Map<number, DesiredGroup>();
      for (const step of steps) {
        for (const { key, pick } of step) {
          const next = pick === undefined ? undefined : objectOf(key, pick);
          groups.set(String(key), next);
          if (model.get(key) === next) continue;
          model.delete(key);
          if (next) model.set(key, next);
        }
        const before = new Map(ips.map((ip) => [ip, macOf(index, ip)]));
        const touched = index.update(groups);
        const order = [...model.values()];
        for (const ip of ips) {
          const claimants = order.filter((g) => g.neighbours.some((n) => n.ip?.toString() === ip));
          const newest = claimants.at(-1)?.neighbours.filter((n) => n.ip?.toString() === ip).at(-1)?.mac?.toString();
          assert.equal(macOf(index, ip), newest, `slot ${ip}`);
          if (before.get(ip) !== newest) assert.ok(touched.neighbours.has(neighbourKey({ ...neighbour(ip, '02:00:00:00:00:00'), linkIndex: 5 })), `change of ${ip} reported`);
        }
        const fresh = new DesiredIndex(resolve);
        fresh.rebuild(order);
        assert.deepEqual(index.routes().map((r) => routeKey(r)).sort(), fresh.routes().map((r) => routeKey(r)).sort());
      }
    }), { numRuns: 300 });
  });
  it('catches up from the changes alone (a group object not in the log is never looked at)', () => {
    const groups = new DesiredGroups();
    const first = group([neighbour('10.244.1.0', '02:00:00:00:00:01')]);
    groups.set('a', first);
    const index = new DesiredIndex(resolve);
    index.rebuild(groups);
    // Mutating the group in place is not a change the log knows: an index that re-walked every group would not see it either,
    // but one that diffed the iterable instead of reading the log would index the second group twice.
    const second = group([neighbour('10.244.2.0', '02:00:00:00:00:02')]);
    groups.set('b', second);
    const touched = index.update(groups);
    assert.deepEqual([...touched.neighbours].length, 1);
    assert.equal(macOf(index, '10.244.2.0'), '02:00:00:00:00:02');
    assert.equal(macOf(index, '10.244.1.0'), '02:00:00:00:00:01');
  });
});
