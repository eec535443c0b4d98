/** The waits every loop builds on: whenAborted, sleep and Alarm, including signals that aborted before the wait began. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Alarm } from '../../src/support/clock.js';
import { sleep, whenAborted } from '../../src/support/timing.js';
import { FakeClock } from '../support/fake-clock.js';

/** Whether `promise` settles within `ms` of real time. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let settled = false;
  void promise.then(() => (settled = true));
  await sleep(ms);
  return settled;
}

describe('whenAborted', () => {
  it('calls back at once for a signal that has already aborted, once on a later abort, never after detaching', () => {
    const calls: string[] = [];
    whenAborted(AbortSignal.abort(), () => calls.push('already'));
    const later = new AbortController();
    whenAborted(later.signal, () => calls.push('later'));
    const detached = new AbortController();
    whenAborted(detached.signal, () => calls.push('detached'))();
    later.abort();
    later.abort();
    detached.abort();
    assert.deepEqual(calls, ['already', 'later']);
  });
});

describe('Alarm', () => {
  it('a sleep begun after the abort ends at once; an abort or wake() during a sleep ends it', async () => {
    const clock = new FakeClock();
    const alarm = new Alarm(clock);
    assert.ok(await settlesWithin(alarm.sleep(Infinity, AbortSignal.abort()), 20), 'already aborted');
    const controller = new AbortController();
    const aborted = alarm.sleep(Infinity, controller.signal);
    controller.abort();
    assert.ok(await settlesWithin(aborted, 20), 'aborted while sleeping');
    const woken = alarm.sleep(Infinity, new AbortController().signal);
    alarm.wake();
    assert.ok(await settlesWithin(woken, 20), 'woken');
  });

  it('ends at the time asked; a wake() while nobody sleeps is not kept', async () => {
    const clock = new FakeClock();
    const alarm = new Alarm(clock);
    alarm.wake();
    const timed = alarm.sleep(1000, new AbortController().signal);
    assert.equal(await settlesWithin(timed, 20), false, 'the earlier wake() does not end this sleep');
    await clock.advance(1000);
    assert.ok(await settlesWithin(timed, 20), 'ends at 1000 ms on the clock');
  });
});
