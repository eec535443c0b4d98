/** The /proc process stats: the event-loop delay monitor costs nothing until something reads the metrics. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EVENT_LOOP_RESOLUTION_MS, ProcProcessStats } from '../../src/adapters/process/proc-process-stats.js';
import { sleep } from '../../src/support/timing.js';

describe('ProcProcessStats', () => {
  it('starts the event-loop monitor at the first reading, and reports delays from the second', async () => {
    const stats = new ProcProcessStats();
    try {
      await sleep(EVENT_LOOP_RESOLUTION_MS * 3);
      assert.equal(stats.monitoring, false, 'no monitor before anyone reads');
      const first = stats.read();
      assert.equal(first.eventLoopDelay, undefined, 'a monitor running since construction would have samples by now');
      assert.ok(first.residentBytes > 0 && first.cpuUserSeconds >= 0);
      assert.equal(stats.monitoring, true);
      await sleep(EVENT_LOOP_RESOLUTION_MS * 4);
      const second = stats.read();
      assert.ok(second.eventLoopDelay !== undefined, 'samples after the first reading');
      assert.ok(second.eventLoopDelay.maxSeconds >= 0);
    } finally {
      stats.close();
    }
  });
});
