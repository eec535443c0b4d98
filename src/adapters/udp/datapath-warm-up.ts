/**
 * Runs the worker's per-packet code on synthetic packets before the first real one, so that V8 has compiled
 * it with its optimizing tier by then. Without this a lone packet (a ping, a DNS query, a TCP handshake) runs
 * through the interpreter's and baseline compiler's slow paths, and at a few hundred packets a second the code
 * takes many thousands of packets to become hot enough to be optimized: a daemon that was just started (and
 * every new one in a rolling update) adds tens of microseconds to every crossing.
 *
 * The same classes as the data path run here, each method on the same kinds of objects, so the type feedback
 * V8 optimizes for is the real one: the worker's DatapathLoop itself (polling without waiting, with route
 * changes posted, flagged and signalled on an eventfd of its own as the owner does for the real loop: code that
 * never saw those branches was thrown away at the first lease change), a UdpForwarder (built by the caller
 * exactly as the real one), a KernelTun
 * over one end of a private AF_UNIX datagram socket pair (read and writev behave there as on the TUN: one
 * packet per call, with the virtio header when the real device has offloads), and a KernelUdpSocket bound to
 * the interface address on a port of the kernel's choosing, which sends each synthetic packet to itself. A
 * datagram to one of the host's own addresses never leaves the host (it goes through the loopback device, and
 * is dropped when that is down). Nothing of this touches the real device, socket, routes or counters; every
 * descriptor is closed before the worker reports ready.
 */
import { writeSync } from 'node:fs';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { DatapathCounters } from '../../backend/udp/datapath-counters.js';
import { internetChecksum } from '../../backend/udp/internet-checksum.js';
import type { TunOpener } from '../../backend/udp/packet-ports.js';
import { UdpRouteTable } from '../../backend/udp/route-table.js';
import type { UdpForwarder } from '../../backend/udp/udp-forwarder.js';
import { VIRTIO_NET_HEADER_BYTES } from '../../backend/udp/virtio-net-header.js';
import type { DatapathLoop } from './datapath-loop.js';
import { FLAG_CONTROL, FLAG_WORDS, type WorkerControl } from './datapath-protocol.js';
import { KernelTun } from './kernel-tun.js';
import { KernelUdpSocket } from './kernel-udp-socket.js';
import * as S from './datapath-syscalls.js';

/** Enough rounds for V8 to optimize every function on the way (each round is one packet out, one in). */
const ROUNDS = 3000;
/** Rounds of the loop per synthetic packet: the ~6 it takes from quiet to quiet, and a few quiet ones. */
const LOOP_ROUNDS_PER_PACKET = 8;
/** One synthetic packet in this many comes with the loop's control flag raised. */
const CONTROL_EVERY = 4;
/** Sets of warm-up objects the rounds are spread over (see warmGeneration). */
const GENERATIONS = 10;
/** 192.0.2.0/24 (TEST-NET-1): the synthetic packets' addresses, known only to the warm-up's route table. */
const SYNTHETIC_NETWORK = 0xc0000200;
const PING_BYTES = 84;

export interface WarmUpParts {
  readonly tun: KernelTun;
  readonly udp: KernelUdpSocket;
  readonly routes: UdpRouteTable;
  readonly counters: DatapathCounters;
}

/** What a DatapathLoop needs besides its forwarder (the real loop's come from the owner). */
export interface LoopParts extends Pick<WarmUpParts, 'udp' | 'counters' | 'routes'> {
  readonly flags: Int32Array;
  readonly wakeFd: number;
  readonly controlPort: MessagePort;
}

export interface WarmUpSettings {
  /** Network-order address the real socket binds (the synthetic datagrams go to and come from it). */
  readonly bindAddress: number;
  readonly packetBytes: number;
  /** Whether the real device has offloads (its reads and writes carry the virtio header). */
  readonly offload: boolean;
  /** The socket options of the real socket, but for the address and port. */
  readonly udpOptions: Omit<ConstructorParameters<typeof KernelUdpSocket>[0], 'address' | 'port' | 'counters'>;
  /** Builds a forwarder the way the worker builds the real one, over the warm-up's parts. */
  readonly forwarder: (tunOpener: TunOpener, parts: WarmUpParts) => UdpForwarder;
  /**
   * The real forwarder, already built: pumped every round as the worker's loop pumps it (it forwards whatever
   * real packet is waiting, usually none), so that V8 optimizes for both sets of objects. Built first, because
   * a second instance of a class that appears after optimization invalidates the optimized code.
   */
  readonly real: UdpForwarder;
  /**
   * Builds a loop the way the worker builds the real one, over a warm-up forwarder (it polls without waiting)
   * and control parts of its own, which the warm-up drives as the owner drives the real ones.
   */
  readonly loop: (forwarder: UdpForwarder, parts: LoopParts) => DatapathLoop;
}

/** Runs the warm-up rounds; best effort: a host that refuses any of it only misses the head start. */
export function warmUp(settings: WarmUpSettings): void {
  const packet = Buffer.alloc(8192);
  const drain = Buffer.alloc(65536 + 64);
  for (let generation = 0; generation < GENERATIONS; generation++) {
    if (!warmGeneration(settings, packet, drain)) return;
  }
}

/**
 * One set of warm-up objects carrying ROUNDS / GENERATIONS packets each way. Several sets one after the other,
 * because what happens once per object (its buffers' addresses looked up, its fields given their values) must
 * happen often enough for V8 to have seen it; otherwise the real objects, new to the optimized code, throw it
 * away at their first packet (seen with --trace-deopt: "insufficient type feedback", "code dependencies").
 */
function warmGeneration(settings: WarmUpSettings, packet: Buffer, drain: Buffer): boolean {
  const pair = Buffer.alloc(8192);
  if ((S.sys.socketpair(S.AF_UNIX, S.SOCK_DGRAM | S.SOCK_NONBLOCK | S.SOCK_CLOEXEC, 0, S.addressOf(pair)) as number) < 0) return false;
  const tunFd = pair.readInt32LE(0);
  const feedFd = pair.readInt32LE(4);
  let tun: KernelTun | undefined;
  let udp: KernelUdpSocket | undefined;
  const wakeFd = S.sys.eventfd(0, S.EFD_NONBLOCK | S.EFD_CLOEXEC) as number;
  const control = new MessageChannel();
  try {
    if (wakeFd < 0) return false;
    const counters = new DatapathCounters();
    tun = new KernelTun(tunFd, 'warm-up', 0, { counters, packetBytes: settings.packetBytes, offload: settings.offload }, settings.offload);
    udp = new KernelUdpSocket({ ...settings.udpOptions, address: settings.bindAddress, port: 0, counters });
    const routes = new UdpRouteTable();
    // Changed twice, as lease changes change the real table, so its optimized lookup does not assume it fixed.
    const route = { network: SYNTHETIC_NETWORK, prefixLength: 24, address: settings.bindAddress, port: udp.localPort };
    routes.apply({ set: [route, { ...route, network: SYNTHETIC_NETWORK + 0x100 }], remove: [] });
    routes.apply({ set: [], remove: [{ network: SYNTHETIC_NETWORK + 0x100, prefixLength: 24 }] });
    const device = tun;
    const forwarder = settings.forwarder({ open: () => device }, { tun, udp, routes, counters });
    const flags = new Int32Array(new SharedArrayBuffer(FLAG_WORDS * 4));
    const loop = settings.loop(forwarder, { udp, counters, routes, flags, wakeFd, controlPort: control.port1 });
    // Written as the owner writes it (a Buffer the call holds, not a raw address of a local the optimizer may
    // consider dead once only its address is used).
    const one = Buffer.alloc(8);
    one.writeBigUInt64LE(1n);
    const header = settings.offload ? VIRTIO_NET_HEADER_BYTES : 0;
    const feedAddress = S.addressOf(packet);
    const drainAddress = S.addressOf(drain);
    for (let round = 0; round < ROUNDS / GENERATIONS; round++) {
      writePing(packet, header, round);
      if ((S.sys.write(feedFd, feedAddress, header + PING_BYTES) as number) < 0) return false;
      // Every few packets a route change as the owner sends one (message, flag, eventfd): optimized code that
      // never saw those branches would be thrown away at the first real lease change (seen with --trace-deopt:
      // "insufficient type feedback"), and a lone packet would meet the baseline code again for a long while.
      if (round % CONTROL_EVERY === 0) {
        control.port2.postMessage({ type: 'routes', changes: { set: [route], remove: [] } } satisfies WorkerControl);
        Atomics.store(flags, FLAG_CONTROL, 1);
        writeSync(wakeFd, one);
      }
      // The worker's loop itself, from quiet to quiet: it polls, finds the TUN readable, sends the packet, finds
      // the TUN empty, polls, finds the socket readable, writes the packet back, polls and finds nothing.
      // Through `run`, as the worker drives its loop, so that is optimized too.
      loop.run(LOOP_ROUNDS_PER_PACKET);
      while ((S.sys.read(feedFd, drainAddress, drain.length) as number) > 0);
      settings.real.fromTun();
      settings.real.fromUdp();
    }
    return true;
  } catch {
    // Only the head start is lost.
    return false;
  } finally {
    // Not forwarder.close(): that would also close the ICMP sender the real forwarder shares.
    if (tun) tun.close();
    else S.sys.close(tunFd);
    udp?.close();
    S.sys.close(feedFd);
    if (wakeFd >= 0) S.sys.close(wakeFd);
    control.port1.close();
    control.port2.close();
  }
}

/** An ICMP echo request 192.0.2.1 → 192.0.2.2 (TTL 64, valid checksums) after `header` zero bytes. */
function writePing(buffer: Buffer, header: number, sequence: number): void {
  buffer.fill(0, 0, header + PING_BYTES);
  const at = header;
  buffer[at] = 0x45;
  buffer.writeUInt16BE(PING_BYTES, at + 2);
  buffer.writeUInt16BE(sequence & 0xffff, at + 4);
  buffer[at + 8] = 64;
  buffer[at + 9] = 1;
  buffer.writeUInt32BE(SYNTHETIC_NETWORK + 1, at + 12);
  buffer.writeUInt32BE(SYNTHETIC_NETWORK + 2, at + 16);
  buffer.writeUInt16BE(internetChecksum(buffer, at, 20), at + 10);
  buffer[at + 20] = 8;
  buffer.writeUInt16BE(sequence & 0xffff, at + 26);
  buffer.writeUInt16BE(internetChecksum(buffer, at + 20, PING_BYTES - 20), at + 22);
}
