/** E2E suite helpers: a lab made before the suite and removed after it (also when a test fails), and polling. */
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { Lab, type LabOptions } from '../../src/lab/lab.js';
import { sleep } from '../../src/support/timing.js';

/** Registers before/after hooks in the current suite; leftovers of a crashed earlier run are removed first. */
export function labForSuite(options: LabOptions): Lab {
  const lab = new Lab(options);
  before(async () => {
    await lab.down();
    await lab.up();
  });
  after(async () => {
    await lab.down();
  });
  return lab;
}

/** Polls `condition` every 10 ms; returns how long it took, fails the test after `timeoutMs`. */
export async function waitFor(what: string, condition: () => boolean, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > timeoutMs) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
  return Date.now() - started;
}
