/**
 * The udp data path's loop over a scripted forwarder and real descriptors (a socket pair plays the TUN and
 * another the UDP socket, an eventfd the owner's wake-up; poll never waits): which side a round pumps, with
 * what batch limit, when it sleeps, what a wake-up, a control message and the wake eventfd do.
 */
import assert from 'node:assert/strict';
import { MessageChannel } from 'node:worker_threads';
import { after, describe, it } from 'node:test';
import { DatapathLoop } from '../../src/adapters/udp/datapath-loop.js';
import { FLAG_CONTROL, FLAG_STOP, FLAG_WORDS, type WorkerControl } from '../../src/adapters/udp/datapath-protocol.js';
import * as S from '../../src/adapters/udp/datapath-syscalls.js';
import { Counter, DatapathCounters } from '../../src/backend/udp/datapath-counters.js';
import { UdpRouteTable } from '../../src/backend/udp/route-table.js';
import type { UdpForwarder } from '../../src/backend/udp/udp-forwarder.js';

const opened: number[] = [];

function socketPair(): [number, number] {
  const words = Buffer.alloc(8);
  S.check(S.sys.socketpair(S.AF_UNIX, S.SOCK_DGRAM | S.SOCK_NONBLOCK | S.SOCK_CLOEXEC, 0, S.addressOf(words)) as number, 'socketpair');
  const pair: [number, number] = [words.readInt32LE(0), words.readInt32LE(4)];
  opened.push(...pair);
  return pair;
}

const byte = Buffer.alloc(8, 1);
const sink = Buffer.alloc(64);
const send = (fd: number) => S.sys.write(fd, S.addressOf(byte), 1);
const consume = (fd: number) => S.sys.read(fd, S.addressOf(sink), sink.length) as number;

/** A forwarder that records the calls a loop makes and reads one datagram per packet from its descriptors. */
class ScriptedForwarder {
  readonly calls: string[] = [];
  tunDrained = false;
  udpDrained = false;
  constructor(
    private readonly tunFd: number,
    private readonly udpFd: number,
  ) {}
  get device() {
    return { pollDescriptor: this.tunFd };
  }
  fromTun(limit: number): number {
    this.calls.push(`tun ${limit}`);
    let count = 0;
    while (count < limit && consume(this.tunFd) > 0) count++;
    this.tunDrained = count < limit;
    return count;
  }
  fromUdp(): number {
    this.calls.push('udp');
    let count = 0;
    while (consume(this.udpFd) > 0) count++;
    this.udpDrained = true;
    return count;
  }
  ensureDevice(): boolean {
    return true;
  }
}

function loopOver() {
  const [tunFd, tunPeer] = socketPair();
  const [udpFd, udpPeer] = socketPair();
  const wakeFd = S.check(S.sys.eventfd(0, S.EFD_NONBLOCK | S.EFD_CLOEXEC) as number, 'eventfd');
  opened.push(wakeFd);
  const forwarder = new ScriptedForwarder(tunFd, udpFd);
  const flags = new Int32Array(new SharedArrayBuffer(FLAG_WORDS * 4));
  const counters = new DatapathCounters();
  const routes = new UdpRouteTable();
  const control = new MessageChannel();
  const loop = new DatapathLoop({
    forwarder: forwarder as unknown as UdpForwarder, udpFd, wakeFd, batchPackets: 16, flags, counters, idlePollMs: 0,
    controlPort: control.port1, routes,
  });
  const close = () => {
    control.port1.close();
    control.port2.close();
  };
  return { loop, forwarder, tunPeer, udpPeer, wakeFd, flags, counters, routes, control, close };
}

after(() => {
  for (const fd of opened) S.sys.close(fd);
});

describe('DatapathLoop', () => {
  it('pumps both sides while busy, sleeps once both are drained, then pumps nothing until poll says so', () => {
    const { loop, forwarder, counters, close } = loopOver();
    loop.round();
    assert.deepEqual(forwarder.calls, ['tun 16', 'udp'], 'the first round pumps both with full batches');
    assert.equal(counters.values[Counter.syscallPoll], 1, 'both drained: it polled');
    forwarder.calls.length = 0;
    loop.round();
    loop.round();
    assert.deepEqual(forwarder.calls, [], 'nothing readable: no reads at all');
    assert.equal(counters.values[Counter.syscallPoll], 3);
    close();
  });

  it('a packet on the TUN after a quiet poll: one packet first, then a full batch, then sleep', () => {
    const { loop, forwarder, tunPeer, close } = loopOver();
    loop.round();
    send(tunPeer);
    send(tunPeer);
    loop.round();
    forwarder.calls.length = 0;
    loop.round();
    assert.deepEqual(forwarder.calls, ['tun 1'], 'the woken side only, one packet before looking for more');
    loop.round();
    assert.deepEqual(forwarder.calls, ['tun 1', 'tun 16'], 'not drained after one: the same side again, a full batch');
    close();
  });

  it('a datagram after a quiet poll wakes only the socket side', () => {
    const { loop, forwarder, udpPeer, close } = loopOver();
    loop.round();
    send(udpPeer);
    loop.round();
    forwarder.calls.length = 0;
    loop.round();
    assert.deepEqual(forwarder.calls, ['udp']);
    close();
  });

  it('run makes the rounds asked for, and none once the stop flag is set', () => {
    const { loop, flags, counters, close } = loopOver();
    assert.equal(loop.run(3), true);
    assert.equal(counters.values[Counter.syscallPoll], 3, 'three quiet rounds: three polls');
    Atomics.store(flags, FLAG_STOP, 1);
    assert.equal(loop.run(3), false);
    assert.equal(counters.values[Counter.syscallPoll], 3, 'stopped: no round at all');
    close();
  });

  it('control flagged: the routes posted are applied and the flag cleared; the wake eventfd is read empty', () => {
    const { loop, flags, routes, control, wakeFd, close } = loopOver();
    loop.round();
    const route = { network: 0x0a620200, prefixLength: 24, address: 0x7f000002, port: 8285 };
    control.port2.postMessage({ type: 'routes', changes: { set: [route], remove: [] } } satisfies WorkerControl);
    Atomics.store(flags, FLAG_CONTROL, 1);
    S.sys.write(wakeFd, S.addressOf(byte), 8);
    loop.round();
    assert.equal(Atomics.load(flags, FLAG_CONTROL), 0);
    const hop = routes.lookup(0x0a620207);
    assert.deepEqual([hop?.address, hop?.port], [0x7f000002, 8285]);
    assert.equal(consume(wakeFd), -1, 'the eventfd was read: nothing left in it');
    close();
  });
});
