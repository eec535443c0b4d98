import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DeltaTracker, type TrackerRules } from '../../src/dataplane/delta-tracker.js';

/** Objects are `key=value`; ours when the value starts with "o"; an observed object satisfies a desired one when the values match. */
interface Entry {
  readonly key: string;
  readonly value: string;
}
const rules: TrackerRules<Entry, Entry> = {
  keyOf: (entry) => entry.key,
  satisfies: (observed, desired) => observed.value === desired.value,
  ours: (entry) => entry.value.startsWith('o'),
};
const entries = (text: string): Entry[] => text.split(' ').filter(Boolean).map((pair) => {
  const [key = '', value = ''] = pair.split('=');
  return { key, value };
});
const desiredOf = (text: string) => new Map(entries(text).map((entry) => [entry.key, entry]));
const work = (tracker: DeltaTracker<Entry, Entry>) =>
  [...tracker.pendingApplies().map(([key, entry]) => `apply ${key}=${entry.value}`), ...tracker.pendingDeletes().map(([key]) => `delete ${key}`)].sort().join(', ');

describe('DeltaTracker: pending work from desired and observed', () => {
  const cases: Array<[string, string, string, string]> = [
    ['nothing either side', '', '', ''],
    ['missing: apply', 'a=o1', '', 'apply a=o1'],
    ['present and satisfying: nothing', 'a=o1', 'a=o1', ''],
    ['present but different: apply (replace)', 'a=o1', 'a=o2', 'apply a=o1'],
    ['a foreign object at a desired key: apply (takes it over)', 'a=o1', 'a=f1', 'apply a=o1'],
    ['ours, not desired: delete', '', 'a=o1', 'delete a'],
    ['foreign, not desired: left alone', '', 'a=f1', ''],
    ['a mix', 'a=o1 b=o2', 'b=o2 c=o3 d=f4', 'apply a=o1, delete c'],
  ];
  for (const [name, desired, observed, expected] of cases) {
    it(name, () => {
      const tracker = new DeltaTracker(rules, desiredOf(desired));
      tracker.replaceObserved(entries(observed));
      assert.equal(work(tracker), expected);
    });
  }
});

describe('DeltaTracker: incremental changes equal a full recomputation', () => {
  it('observe: a notification or a successful write updates one key', () => {
    const tracker = new DeltaTracker(rules, desiredOf('a=o1 b=o2'));
    tracker.replaceObserved(entries('a=o1 b=o2'));
    assert.equal(work(tracker), '');
    tracker.observe('a', undefined);
    assert.equal(work(tracker), 'apply a=o1', 'deleted by someone: pending again');
    tracker.observe('a', { key: 'a', value: 'o1' });
    assert.equal(work(tracker), '', 'written back');
    tracker.observe('z', { key: 'z', value: 'o9' });
    assert.equal(work(tracker), 'delete z', 'an object of ours nobody wants appeared');
    tracker.observe('z', undefined);
    assert.equal(work(tracker), '');
  });
  it('desiredChanged: only the touched keys are compared', () => {
    const desired = desiredOf('a=o1');
    const tracker = new DeltaTracker(rules, desired);
    tracker.replaceObserved(entries('a=o1'));
    desired.set('b', { key: 'b', value: 'o2' });
    desired.delete('a');
    assert.equal(work(tracker), '', 'nothing until told');
    tracker.desiredChanged(['b']);
    assert.equal(work(tracker), 'apply b=o2');
    tracker.desiredChanged(['a']);
    assert.equal(work(tracker), 'apply b=o2, delete a');
  });
  it('keeps foreign objects only at desired keys (a busy host’s neighbour table stays out of memory)', () => {
    const desired = desiredOf('a=o1');
    const tracker = new DeltaTracker(rules, desired);
    tracker.replaceObserved(entries('a=f1 b=f2'));
    assert.deepEqual([tracker.get('a')?.value, tracker.get('b')], ['f1', undefined]);
    desired.delete('a');
    tracker.desiredChanged(['a']);
    assert.equal(tracker.get('a'), undefined, 'no longer desired: the foreign object is forgotten, not deleted');
    assert.equal(work(tracker), '');
  });
  it('forget: objects the kernel dropped silently become pending again', () => {
    const tracker = new DeltaTracker(rules, desiredOf('a=o1 b=o2'));
    tracker.replaceObserved(entries('a=o1 b=o2 c=o3'));
    const dropped = tracker.forget((entry) => entry.key !== 'b');
    assert.deepEqual(dropped.map((entry) => entry.key).sort(), ['a', 'c']);
    assert.equal(work(tracker), 'apply a=o1');
  });
  it('refreshAll: a change of what is ours is applied everywhere', () => {
    let mine = 'o';
    const tracker = new DeltaTracker({ ...rules, ours: (entry) => entry.value.startsWith(mine) }, desiredOf(''));
    tracker.replaceObserved(entries('a=o1 b=x1'));
    assert.equal(work(tracker), 'delete a');
    mine = 'never';
    tracker.refreshAll();
    assert.equal(work(tracker), '');
  });
  it('replaceDesired: a new source recomputes everything', () => {
    const tracker = new DeltaTracker(rules, desiredOf('a=o1'));
    tracker.replaceObserved(entries('a=o1'));
    tracker.replaceDesired(desiredOf('a=o2 b=o3'));
    assert.equal(work(tracker), 'apply a=o2, apply b=o3');
    assert.equal(tracker.pendingCount, 2);
  });
});
