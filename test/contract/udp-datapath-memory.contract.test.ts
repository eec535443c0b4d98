/**
 * Memory safety of the udp data path under peer churn (regression: flanneld aborted with "malloc(): unsorted
 * double linked list corrupted" after a few minutes of lease changes while traffic flowed). The worker hands
 * the kernel raw addresses of its buffers; one it reached only by address (the eventfd read buffer) was
 * collected once the loop was optimized, and every wake-up wrote 8 bytes into freed memory. Here the real data
 * path runs in a child process under V8 flags that optimize at once and collect and compact often, with
 * glibc's heap checks on: a buffer freed under the kernel aborts the child within a second or two.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { assertInContractNetns } from '../support/contract-netns.js';

const CHILD = fileURLToPath(new URL('../support/udp-peer-churn.js', import.meta.url));

describe('udp data path memory safety', () => {
  it('survives 3 s of peer changes under constant garbage collection and compaction', () => {
    assertInContractNetns();
    const child = spawnSync(process.execPath, ['--always-osr', '--gc-interval=300', '--stress-compaction', CHILD, '3000'], {
      env: { ...process.env, MALLOC_CHECK_: '3' }, encoding: 'utf8', timeout: 60_000,
    });
    assert.equal(child.status, 0, `exit ${child.status} (${child.signal ?? 'no signal'}): ${child.stderr.slice(-500)}`);
    assert.match(child.stdout, /stopped ok/);
  });
});
