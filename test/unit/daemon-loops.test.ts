/** The daemon's small loops on a fake clock: subnet.env writing with retries, and noticing config changes. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseNetworkConfig } from '../../src/config/network-config.js';
import { watchNetworkConfig } from '../../src/daemon/config-watch.js';
import { SubnetFileWriter } from '../../src/daemon/subnet-file-writer.js';
import { FlannelError } from '../../src/support/errors.js';
import { captureLogger } from '../support/capture-logger.js';
import { FakeClock, settle } from '../support/fake-clock.js';

describe('SubnetFileWriter', () => {
  it('retries a failed write with backoff until it succeeds, then is up to date; writes new contents once', async () => {
    const clock = new FakeClock();
    const log = captureLogger();
    const attempts: number[] = [];
    let failing = true;
    let written = '';
    let notified = 0;
    const writer = new SubnetFileWriter({
      write: (contents) => {
        attempts.push(clock.now());
        if (failing) throw new Error('EROFS: read-only file system');
        written = contents;
      },
      logger: log.logger, clock, retry: { initialMs: 1000, maxMs: 4000 }, onWritten: () => notified++,
    });
    const controller = new AbortController();
    const running = writer.run(controller.signal);
    try {
      await settle();
      assert.equal(attempts.length, 0, 'nothing to write yet');
      writer.publish('FLANNEL_SUBNET=10.244.7.1/24\n');
      await clock.advance(0);
      await clock.advance(1000 + 2000 + 4000 + 4000);
      const start = attempts[0] as number;
      assert.deepEqual(attempts.map((at) => at - start), [0, 1000, 3000, 7000, 11000], 'backoff 1 s doubling to 4 s');
      assert.equal(writer.upToDate, false);
      failing = false;
      await clock.advance(4000);
      assert.deepEqual([writer.upToDate, written, notified], [true, 'FLANNEL_SUBNET=10.244.7.1/24\n', 1]);
      assert.equal(log.messages('subnet file written after failures').length, 1);
      writer.publish('FLANNEL_SUBNET=10.244.7.1/24\n');
      await clock.advance(60_000);
      assert.equal(notified, 1, 'the same contents are not written again');
      writer.publish('FLANNEL_SUBNET=10.244.9.1/24\n');
      assert.equal(writer.upToDate, false);
      await settle();
      assert.deepEqual([writer.upToDate, written, notified], [true, 'FLANNEL_SUBNET=10.244.9.1/24\n', 2]);
    } finally {
      controller.abort();
      await running;
    }
  });
});

describe('watchNetworkConfig', () => {
  it('logs each distinct change once, an unusable config once, a return once, and nothing for an unreachable store', async () => {
    const clock = new FakeClock();
    const log = captureLogger();
    const running = parseNetworkConfig('{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}}');
    let stored: () => string = () => '{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}}';
    const subnetManager = {
      getNetworkConfig: async () => parseNetworkConfig(stored()),
    };
    const controller = new AbortController();
    const watching = watchNetworkConfig({ subnetManager, running, logger: log.logger, clock, intervalMs: 60_000 }, controller.signal);
    const summary = () => log.lines.map((line) => `${line.msg.split(';')[0]}${line.changes ? ` ${JSON.stringify(line.changes)}` : ''}`);
    try {
      await clock.advance(120_000);
      assert.deepEqual(summary(), [], 'unchanged: silent');
      stored = () => '{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan","VNI":2}}';
      await clock.advance(180_000);
      assert.deepEqual(summary(), ['network config in the store changed ["Backend: {\\"Type\\":\\"vxlan\\"} → {\\"Type\\":\\"vxlan\\",\\"VNI\\":2}"]']);
      stored = () => { throw new FlannelError('ETCD_UNAVAILABLE', 'no answer', { retryable: true }); };
      await clock.advance(120_000);
      assert.equal(summary().length, 1, 'an unreachable store is not a change');
      stored = () => '{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan","VNI":2}}';
      await clock.advance(60_000);
      assert.equal(summary().length, 1, 'the same change is not logged again');
      stored = () => '{"Network":"10.244.0.0/29"}';
      await clock.advance(120_000);
      stored = () => '{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}}';
      await clock.advance(60_000);
      assert.deepEqual(summary().slice(1), ['network config in the store is missing or invalid', 'network config in the store matches the running config again']);
    } finally {
      controller.abort();
      await watching;
    }
  });
});
