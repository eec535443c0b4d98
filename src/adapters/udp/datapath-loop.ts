/**
 * The udp data path's loop, one round per call: the worker runs the real one for its lifetime, and the
 * warm-up runs one of its own over synthetic packets first. Both are this class, so the rounds the warm-up
 * makes are what V8 optimizes `round` and `sleep` for before the first real packet. Under light traffic (pings,
 * a few requests a second) they never become hot enough on their own: perf showed them in baseline code after
 * hundreds of pings, every property load through an inline-cache handler. The warm-up also takes the branches
 * the owner's messages take (a route change flagged, the wake eventfd read): optimized code that had never
 * seen them was thrown away at the first lease change ("insufficient type feedback") and not rebuilt.
 *
 * While packets flow, pump both sides every round (a read that finds nothing is cheaper than poll). Once both
 * ports report themselves drained, sleep in poll and wake only the side that became readable: an idle wake-up
 * that carries one packet costs the poll and the calls that move it, no reads that return EAGAIN. The first
 * round after a wake-up reads one packet from the TUN and sends it before looking for more (as upstream does):
 * a lone packet leaves without waiting for the read that finds the TUN empty; a burst is pumped in full
 * batches from the next round on.
 *
 * The rounds are driven by `run`, a method of this class too: the worker's own `while` over `round()` ran in
 * the interpreter for the daemon's lifetime (a loop that never returns is optimized only by on-stack
 * replacement, which a few rounds per packet never trigger: perf showed the interpreter's entry trampoline,
 * loop handler and module-variable loads on every lone packet). The warm-up drives its rounds through `run`,
 * so the function the worker loops in is optimized before the first packet.
 */
import { type MessagePort, receiveMessageOnPort } from 'node:worker_threads';
import { Counter, type DatapathCounters } from '../../backend/udp/datapath-counters.js';
import type { UdpRouteTable } from '../../backend/udp/route-table.js';
import type { UdpForwarder } from '../../backend/udp/udp-forwarder.js';
import { FLAG_CONTROL, FLAG_STOP, type WorkerControl } from './datapath-protocol.js';
import * as S from './datapath-syscalls.js';

export interface DatapathLoopOptions {
  readonly forwarder: UdpForwarder;
  /** The UDP socket's descriptor. */
  readonly udpFd: number;
  /** The eventfd the owner writes to wake an idle loop; −1 for none (poll ignores it). */
  readonly wakeFd: number;
  readonly batchPackets: number;
  /** The shared flags (datapath-protocol.ts): FLAG_CONTROL set means control messages are waiting, FLAG_STOP ends `run`. */
  readonly flags: Int32Array;
  readonly counters: DatapathCounters;
  /** How long an idle round waits in poll (the warm-up's loop: 0). */
  readonly idlePollMs: number;
  /** Where control messages (route changes for `routes`) arrive; read between batches when FLAG_CONTROL is set. */
  readonly controlPort: MessagePort;
  /** The forwarder's route table, which those messages change. */
  readonly routes: UdpRouteTable;
}

export class DatapathLoop {
  readonly #forwarder: UdpForwarder;
  readonly #flags: Int32Array;
  readonly #counters: DatapathCounters;
  readonly #controlPort: MessagePort;
  readonly #routes: UdpRouteTable;
  readonly #batchPackets: number;
  readonly #idlePollMs: number;
  readonly #wakeFd: number;
  /**
   * The poll set and the buffer the wake-up counter is read into. The kernel writes both through raw
   * addresses, so they are fields of this object, reachable for as long as the loop runs: a local that the
   * code no longer mentions (only its address) is dead to optimized code, and once collected its memory goes
   * back to malloc while poll and read still write there ("malloc(): unsorted double linked list corrupted").
   */
  readonly #pollSet = Buffer.alloc(8192);
  readonly #wakeBuffer = Buffer.alloc(8192);
  readonly #pollWords: Int32Array;
  readonly #pollAddress: number;
  readonly #wakeAddress: number;
  /** Which sides to pump, and whether this round follows a wake-up from poll. */
  #tunReady = true;
  #udpReady = true;
  #woken = false;

  constructor(options: DatapathLoopOptions) {
    this.#forwarder = options.forwarder;
    this.#flags = options.flags;
    this.#counters = options.counters;
    this.#controlPort = options.controlPort;
    this.#routes = options.routes;
    this.#batchPackets = options.batchPackets;
    this.#idlePollMs = options.idlePollMs;
    this.#wakeFd = options.wakeFd;
    this.#pollWords = new Int32Array(this.#pollSet.buffer, this.#pollSet.byteOffset, 6);
    this.#pollAddress = S.addressOf(this.#pollSet);
    this.#wakeAddress = S.addressOf(this.#wakeBuffer);
    this.#pollWords[2] = options.udpFd;
    this.#pollWords[4] = options.wakeFd;
  }

  /** Runs up to `rounds` rounds; false as soon as the stop flag is seen set (checked before each round). */
  run(rounds: number): boolean {
    const flags = this.#flags;
    for (let round = 0; round < rounds; round++) {
      if (Atomics.load(flags, FLAG_STOP) !== 0) return false;
      this.round();
    }
    return true;
  }

  /** One round: control messages if flagged, then pump or sleep (see the file comment). */
  round(): void {
    const flags = this.#flags;
    if (Atomics.load(flags, FLAG_CONTROL) !== 0) {
      Atomics.store(flags, FLAG_CONTROL, 0);
      this.#takeControl();
    }
    const forwarder = this.#forwarder;
    const woken = this.#woken;
    let tunReady = this.#tunReady;
    let udpReady = this.#udpReady;
    if (tunReady) forwarder.fromTun(woken ? 1 : this.#batchPackets);
    if (udpReady) forwarder.fromUdp();
    if (woken) {
      // Only the side that woke us and was not read empty needs another round.
      this.#woken = false;
      tunReady = tunReady && !forwarder.tunDrained;
      udpReady = udpReady && !forwarder.udpDrained;
      this.#tunReady = tunReady;
      this.#udpReady = udpReady;
      if (tunReady || udpReady) return;
    } else if ((tunReady && !forwarder.tunDrained) || (udpReady && !forwarder.udpDrained)) {
      this.#tunReady = true;
      this.#udpReady = true;
      return;
    }
    this.#sleep();
  }

  /** Applies the control messages waiting on the port. */
  #takeControl(): void {
    const port = this.#controlPort;
    for (let message = receiveMessageOnPort(port); message; message = receiveMessageOnPort(port)) {
      const control = message.message as WorkerControl;
      if (control.type === 'routes') this.#routes.apply(control.changes);
    }
  }

  /** Sleeps in poll over the TUN, the socket and the wake eventfd; marks the sides that became readable. */
  #sleep(): void {
    const forwarder = this.#forwarder;
    const device = forwarder.device;
    const words = this.#pollWords;
    words[0] = device ? device.pollDescriptor : -1;
    // events POLLIN, revents (the high half) cleared
    words[1] = S.POLLIN;
    words[3] = S.POLLIN;
    words[5] = S.POLLIN;
    this.#counters.add(Counter.syscallPoll);
    const ready = S.sys.poll(this.#pollAddress, 3, this.#idlePollMs) as number;
    if (ready < 0 && S.errno() !== S.EINTR) throw S.errnoError('poll');
    // Readable, or POLLERR/POLLHUP (a deleted device: the read reports it and the device is reopened).
    let tunReady = ready > 0 && (words[1] as number) >>> 16 !== 0;
    const udpReady = ready > 0 && (words[3] as number) >>> 16 !== 0;
    if ((words[5] as number) >>> 16 !== 0) S.sys.read(this.#wakeFd, this.#wakeAddress, 8);
    if (!device) tunReady = forwarder.ensureDevice();
    this.#tunReady = tunReady;
    this.#udpReady = udpReady;
    this.#woken = tunReady || udpReady;
  }
}
