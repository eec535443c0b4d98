/**
 * The udp backend's data-path hook on its own, with a forwarder double and a fake clock: what it starts the
 * forwarder with, how lease changes reach it, what it tells the reconciler and the logs, counters, shutdown,
 * a restart when our subnet changes, and failure.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DataPathContext, LeaseSnapshot } from '../../src/backend/data-path.js';
import type { RunningUdpForwarder, UdpForwarderOptions, UdpForwarderPeer, UdpForwarderPort } from '../../src/backend/data-path-ports.js';
import { udpDataPath } from '../../src/backend/udp/udp-data-path.js';
import { LatestFeed } from '../../src/daemon/latest-feed.js';
import { IpAddress } from '../../src/net/ip.js';
import { FlannelError } from '../../src/support/errors.js';
import { captureLogger } from '../support/capture-logger.js';
import { FakeClock, settle } from '../support/fake-clock.js';
import { lease } from '../support/fixtures.js';

/** Records every forwarder it starts; each one's counters can be set by the test. */
class ForwarderDouble implements UdpForwarderPort {
  readonly started: Array<{ options: UdpForwarderOptions; peers: string[][]; counters: Record<string, number>; stopped: boolean }> = [];
  failStart: Error | undefined;
  leaveOut: string[] = [];

  async start(options: UdpForwarderOptions): Promise<RunningUdpForwarder> {
    if (this.failStart) throw this.failStart;
    const record = { options, peers: [options.peers.map(peerText)], counters: {} as Record<string, number>, stopped: false };
    this.started.push(record);
    options.onDevice({ name: options.tunName, index: 40 + this.started.length, reopened: false });
    return {
      setPeers: (peers) => {
        record.peers.push(peers.map(peerText));
        return this.leaveOut;
      },
      counters: () => record.counters,
      stop: async () => void (record.stopped = true),
    };
  }

  get last() {
    return this.started.at(-1) as ForwarderDouble['started'][number];
  }
}

const peerText = (peer: UdpForwarderPeer) => `${peer.subnet}@${peer.publicIp}`;

function setUp(failStart?: Error) {
  const clock = new FakeClock();
  const forwarder = new ForwarderDouble();
  forwarder.failStart = failStart;
  const { logger, messages } = captureLogger('debug');
  let snapshot: LeaseSnapshot = { own: lease('10.244.1.0/24', '198.18.0.11', ''), peers: [lease('10.244.2.0/24', '198.18.0.12', '')], complete: true };
  const leases = new LatestFeed(() => snapshot);
  const deviceEvents: string[] = [];
  const published: Array<Readonly<Record<string, number>>> = [];
  const context: DataPathContext = {
    adapters: { udpForwarder: forwarder },
    leases,
    devices: { present: new LatestFeed(() => new Map()), appeared: (name) => deviceEvents.push(`+${name}`), disappeared: (name) => deviceEvents.push(`-${name}`) },
    logger,
    counters: { publish: (counters) => published.push(counters) },
  };
  const controller = new AbortController();
  const hook = udpDataPath({ tunName: 'flannel0', bindAddress: IpAddress.parse('198.18.0.11'), port: 8285, mtu: 1472, clock, publishIntervalMs: 1000, dropLogIntervalMs: 10_000 });
  let failure: unknown;
  let done = false;
  const running = hook(context, controller.signal).catch((error: unknown) => void (failure = error)).finally(() => (done = true));
  return {
    clock, forwarder, messages, deviceEvents, published, controller, running,
    get failure() { return failure; },
    get done() { return done; },
    setLeases(next: LeaseSnapshot) {
      snapshot = next;
      leases.changed();
    },
  };
}

describe('udp data-path hook', () => {
  it('starts the forwarder on the plan\u2019s device with our address, Port and the current peers, and announces the device', async () => {
    const run = setUp();
    await settle();
    const { options } = run.forwarder.last;
    assert.deepEqual([options.tunName, options.tunAddress.toString(), options.bindAddress.toString(), options.port, options.mtu], ['flannel0', '10.244.1.0', '198.18.0.11', 8285, 1472]);
    assert.deepEqual(run.forwarder.last.peers[0], ['10.244.2.0/24@198.18.0.12']);
    assert.deepEqual(run.deviceEvents, ['+flannel0']);
    run.controller.abort();
    await run.running;
  });

  it('hands every lease change over as the whole peer set, and logs peers left out only when that list changes', async () => {
    const run = setUp();
    await settle();
    const own = lease('10.244.1.0/24', '198.18.0.11', '');
    run.forwarder.leaveOut = ['peer 10.244.9.0/24 has public IP fd00::9, not IPv4'];
    run.setLeases({ own, peers: [lease('10.244.2.0/24', '198.18.0.12', ''), lease('10.244.3.0/24', '198.18.0.13', '')], complete: true });
    await settle();
    run.setLeases({ own, peers: [lease('10.244.3.0/24', '198.18.0.13', '')], complete: true });
    await settle();
    assert.deepEqual(run.forwarder.last.peers.slice(-2), [['10.244.2.0/24@198.18.0.12', '10.244.3.0/24@198.18.0.13'], ['10.244.3.0/24@198.18.0.13']]);
    assert.equal(run.messages('udp data path left peers out').length, 1);
    assert.equal(run.forwarder.started.length, 1, 'a peer change never restarts the forwarder');
    run.controller.abort();
    await run.running;
  });

  it('publishes counters every interval and once more at stop; logs drops as they start, then at most every 10 s', async () => {
    const run = setUp();
    await settle();
    const counters = run.forwarder.last.counters;
    counters.udpPacketsReceived = 5;
    await run.clock.advance(1000);
    assert.deepEqual(run.published.at(-1), { udpPacketsReceived: 5 });
    assert.equal(run.messages('udp data path counters').length, 1, 'changed counters at debug level');
    counters.dropUnknownSource = 1;
    await run.clock.advance(1000);
    assert.deepEqual(run.messages('udp data path dropped packets').map((line) => [line.drops, line.totals]), [[{ dropUnknownSource: 1 }, { dropUnknownSource: 1 }]]);
    counters.dropUnknownSource = 3;
    await run.clock.advance(5000);
    assert.equal(run.messages('udp data path dropped packets').length, 1, 'not again within 10 s');
    await run.clock.advance(5000);
    assert.deepEqual(run.messages('udp data path dropped packets').at(-1)?.drops, { dropUnknownSource: 2 });
    counters.dropNoRoute = 1;
    await run.clock.advance(1000);
    assert.deepEqual(run.messages('udp data path dropped packets').at(-1)?.drops, { dropNoRoute: 1 }, 'a new reason is logged at once');
    counters.dropNoRoute = 2;
    await run.clock.advance(1000);
    assert.equal(run.messages('udp data path dropped packets').length, 3);
    await run.clock.advance(3000);
    assert.equal(run.messages('udp data path counters').length, 5, 'unchanged counters are not logged');
    counters.udpPacketsReceived = 7;
    run.controller.abort();
    await run.running;
    assert.equal(run.forwarder.last.stopped, true);
    assert.equal(run.published.at(-1)?.udpPacketsReceived, 7, 'the final totals are published');
  });

  it('reports a device that cannot be reopened once per distinct error, and the device again when it is back', async () => {
    const run = setUp();
    await settle();
    const { options } = run.forwarder.last;
    const gone = new FlannelError('EBUSY', 'TUNSETIFF flannel0: Device or resource busy', { retryable: true });
    for (let second = 0; second < 5; second++) options.onError(gone);
    options.onError(new FlannelError('EPERM', 'TUNSETIFF flannel0: Operation not permitted', { retryable: true }));
    options.onDevice({ name: 'flannel0', index: 77, reopened: true });
    assert.equal(run.messages('udp device gone and not opened again yet; retrying every second').length, 2);
    assert.deepEqual(run.deviceEvents, ['+flannel0', '-flannel0', '+flannel0']);
    assert.equal(run.messages('udp device opened again').length, 1);
    assert.equal(run.done, false, 'device trouble is not fatal');
    run.controller.abort();
    await run.running;
  });

  it('fails when the forwarder dies, after stopping it', async () => {
    const run = setUp();
    await settle();
    run.forwarder.last.options.onError(new FlannelError('UDP_DATAPATH_FAILED', 'poll: Bad file descriptor'));
    await run.running;
    assert.ok(run.failure instanceof FlannelError);
    assert.equal(run.failure.code, 'UDP_DATAPATH_FAILED');
    assert.equal(run.forwarder.last.stopped, true);
  });

  it('fails when the forwarder cannot start (e.g. the port is taken)', async () => {
    const run = setUp(new FlannelError('EADDRINUSE', 'bind 198.18.0.11:8285: Address already in use'));
    await run.running;
    assert.equal((run.failure as FlannelError | undefined)?.code, 'EADDRINUSE');
  });

  it('starts again with the new address when our subnet changes, and keeps counting from where it was', async () => {
    const run = setUp();
    await settle();
    run.forwarder.last.counters.tunPacketsRead = 10;
    run.setLeases({ own: lease('10.244.5.0/24', '198.18.0.11', ''), peers: [], complete: true });
    await settle();
    assert.equal(run.forwarder.started.length, 2);
    assert.equal(run.forwarder.started[0]?.stopped, true);
    assert.equal(run.forwarder.last.options.tunAddress.toString(), '10.244.5.0');
    assert.deepEqual(run.deviceEvents, ['+flannel0', '-flannel0', '+flannel0']);
    run.forwarder.last.counters.tunPacketsRead = 1;
    await run.clock.advance(1000);
    assert.equal(run.published.at(-1)?.tunPacketsRead, 11);
    run.controller.abort();
    await run.running;
  });
});
