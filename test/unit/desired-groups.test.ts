import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DesiredGroups } from '../../src/dataplane/desired-groups.js';
import type { DesiredGroup } from '../../src/dataplane/desired-state.js';

const g = (): DesiredGroup => ({ routes: [], neighbours: [] });
const [a, b, c] = [g(), g(), g()];

describe('DesiredGroups: what changed since a version', () => {
  const cases: Array<[string, (groups: DesiredGroups) => void, { removed: DesiredGroup[]; added: DesiredGroup[] }]> = [
    ['one added', (groups) => groups.set('p', c), { removed: [], added: [c] }],
    ['one replaced', (groups) => groups.set('x', c), { removed: [a], added: [c] }],
    ['one removed', (groups) => groups.set('y', undefined), { removed: [b], added: [] }],
    ['the same object set again is no change', (groups) => groups.set('x', a), { removed: [], added: [] }],
    ['added and removed again inside the window: nothing', (groups) => (groups.set('p', c), groups.set('p', undefined)), { removed: [], added: [] }],
    ['replaced twice: the original out, the last in', (groups) => (groups.set('x', c), groups.set('x', b)), { removed: [a], added: [b] }],
    ['removed and set back: out and in again (it becomes the newest claim)', (groups) => (groups.set('x', undefined), groups.set('x', a)), { removed: [a], added: [a] }],
  ];
  for (const [name, change, expected] of cases) {
    it(name, () => {
      const groups = new DesiredGroups();
      groups.set('x', a);
      groups.set('y', b);
      const seen = groups.version;
      change(groups);
      assert.deepEqual(groups.changesSince(seen), expected);
    });
  }
  it('iterates the current groups, and forgets the log a consumer has seen', () => {
    const groups = new DesiredGroups();
    groups.set('x', a);
    const first = groups.version;
    groups.set('y', b);
    assert.deepEqual([...groups], [a, b]);
    assert.deepEqual(groups.changesSince(first), { removed: [], added: [b] });
    assert.equal(groups.changesSince(0), undefined, 'older than the log kept: re-index in full');
    assert.deepEqual(groups.changesSince(groups.version), { removed: [], added: [] });
  });
  it('drops a log grown past the set, so a consumer that far behind re-indexes in full', () => {
    const groups = new DesiredGroups();
    const seen = groups.version;
    for (let step = 0; step < 1100; step++) groups.set('x', step % 2 === 0 ? a : b);
    assert.equal(groups.changesSince(seen), undefined);
    assert.deepEqual([...groups], [b]);
  });
});
