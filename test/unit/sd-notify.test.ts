/** sd_notify: the socket address and message encoding, and real datagrams received on a socket the test binds. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { SdNotifier, notifyMessage, notifySocketAddress } from '../../src/adapters/systemd/sd-notify.js';
import { FlannelError } from '../../src/support/errors.js';
import { NotifyReceiver } from '../support/notify-receiver.js';

describe('NOTIFY_SOCKET addresses', () => {
  it('a path: AF_UNIX, the path, its NUL', () => {
    assert.deepEqual(notifySocketAddress('/run/systemd/notify'), Buffer.concat([Buffer.from([1, 0]), Buffer.from('/run/systemd/notify\0')]));
  });
  it('an abstract name: AF_UNIX, a NUL, the name without a terminator', () => {
    assert.deepEqual(notifySocketAddress('@/org/freedesktop/systemd1/notify/123'), Buffer.concat([Buffer.from([1, 0, 0]), Buffer.from('/org/freedesktop/systemd1/notify/123')]));
  });
  const bad: Array<[string, RegExp]> = [
    ['run/notify', /want an absolute path or @abstract-name/],
    ['vsock:2:1234', /want an absolute path or @abstract-name/],
    ['@', /must be 1\.\.107 bytes/],
    ['/' + 'x'.repeat(107), /must be 1\.\.107 bytes/],
  ];
  for (const [value, expected] of bad) {
    it(`rejects ${JSON.stringify(value.slice(0, 20))}`, () => {
      assert.throws(() => notifySocketAddress(value), (error: unknown) => error instanceof FlannelError && error.code === 'BAD_NOTIFY_SOCKET' && expected.test(error.message));
    });
  }
  it('the longest path that fits (107 bytes + NUL) is accepted', () => {
    assert.equal(notifySocketAddress('/' + 'x'.repeat(106)).length, 110);
  });
});

describe('notify messages', () => {
  it('are KEY=VALUE lines in the given order, and a value cannot start a new assignment', () => {
    assert.equal(notifyMessage({ READY: '1', STATUS: 'ready: subnet 10.244.7.0/24' }).toString(), 'READY=1\nSTATUS=ready: subnet 10.244.7.0/24\n');
    assert.equal(notifyMessage({ STATUS: 'failed: bad\nREADY=1\r\nx' }).toString(), 'STATUS=failed: bad READY=1 x\n');
  });
  it('no NOTIFY_SOCKET (or an empty one): no notifier', () => {
    assert.equal(SdNotifier.fromEnvironment({}), undefined);
    assert.equal(SdNotifier.fromEnvironment({ NOTIFY_SOCKET: '' }), undefined);
  });
});

describe('SdNotifier sends real datagrams', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sd-notify-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const name of [join(dir, 'notify'), `@flannel-ts-test-${process.pid}`]) {
    it(`to ${name.startsWith('@') ? 'an abstract socket' : 'a path socket'}`, () => {
      const receiver = new NotifyReceiver(name);
      try {
        const notifier = SdNotifier.fromEnvironment({ NOTIFY_SOCKET: name });
        assert.ok(notifier);
        notifier.notify({ READY: '1', STATUS: 'ready' });
        notifier.notify({ STOPPING: '1' });
        assert.deepEqual(receiver.drain(), ['READY=1\nSTATUS=ready\n', 'STOPPING=1\n']);
      } finally {
        receiver.close();
      }
    });
  }

  it('nobody listening: a FlannelError naming the errno, not a crash', () => {
    const missing = SdNotifier.fromEnvironment({ NOTIFY_SOCKET: join(dir, 'absent') });
    assert.throws(() => missing?.notify({ READY: '1' }), (error: unknown) => error instanceof FlannelError && error.code === 'ENOENT');
    const abstract = SdNotifier.fromEnvironment({ NOTIFY_SOCKET: `@flannel-ts-absent-${process.pid}` });
    assert.throws(() => abstract?.notify({ READY: '1' }), (error: unknown) => error instanceof FlannelError && error.code === 'ECONNREFUSED');
  });
});
