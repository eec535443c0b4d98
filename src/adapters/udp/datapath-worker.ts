/**
 * Worker thread body of the udp data path: owns the TUN device and the UDP socket and runs the forwarder in a
 * loop that never yields to an event loop (a blocking FFI loop on the main thread would starve signals). It
 * drains both directions while packets flow (a read that finds nothing is cheaper than poll) and sleeps in
 * poll() over the TUN, the socket and a wake eventfd when both are idle.
 *
 * Control from the owner, without stalling the data path: route changes arrive as messages pulled
 * synchronously between batches when the shared "control pending" flag is set; the owner writes the eventfd so
 * an idle loop wakes at once. The shared stop flag ends the loop at the next batch; the descriptors close
 * (the TUN device vanishes with them) and the worker exits.
 *
 * Reports to the owner: `ready`, `device` (each device opened: the first and every reopen after someone
 * deleted it), `device-error` (gone and not reopenable yet; retried every second), `failed` (could not start).
 */
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { Counter, DatapathCounters } from '../../backend/udp/datapath-counters.js';
import type { TunOpener } from '../../backend/udp/packet-ports.js';
import { type DatapathWorkerData, FLAG_CONTROL, FLAG_STOP, type WorkerControl, type WorkerReport } from './datapath-protocol.js';
import { UdpRouteTable } from '../../backend/udp/route-table.js';
import { UdpForwarder } from '../../backend/udp/udp-forwarder.js';
import { FlannelError, errorMessage } from '../../support/errors.js';
import { warmUp } from './datapath-warm-up.js';
import { KernelIcmpSender } from './kernel-icmp-sender.js';
import { KernelTunOpener } from './kernel-tun.js';
import { KernelUdpSocket } from './kernel-udp-socket.js';
import * as S from './datapath-syscalls.js';

const IDLE_POLL_MS = 1000;

const data = workerData as DatapathWorkerData;
const flags = new Int32Array(data.flags);
const counters = new DatapathCounters(data.counters);
const routes = new UdpRouteTable();
const report = (message: WorkerReport) => parentPort?.postMessage(message);

function drainControl(): void {
  if (!parentPort) return;
  for (let message = receiveMessageOnPort(parentPort); message; message = receiveMessageOnPort(parentPort)) {
    const control = message.message as WorkerControl;
    if (control.type === 'routes') routes.apply(control.changes);
  }
}

/** With offloads a batch holds 16 GRO buffers of 64 KiB on receive, or the segments of ~14 superpackets. */
const OFFLOAD_BATCH_BYTES = 16 * 65536;
const OFFLOAD_BATCH_PACKETS = 2048;
/** The warm-up socket's buffers: it never holds more than one datagram. */
const WARM_UP_BUFFER_BYTES = 256 * 1024;

function start(): { forwarder: UdpForwarder; udp: KernelUdpSocket; opener: KernelTunOpener; batchPackets: number } | undefined {
  let udp: KernelUdpSocket | undefined;
  let opener: KernelTunOpener | undefined;
  let icmpSender: KernelIcmpSender | undefined;
  try {
    routes.apply(data.routes);
    opener = new KernelTunOpener({ counters, packetBytes: data.packetBytes, offload: data.offload });
    const batchPackets = data.offload ? OFFLOAD_BATCH_PACKETS : data.batchSize;
    const udpOptions = { bufferBytes: data.socketBufferBytes, batchPackets, packetBytes: data.packetBytes, offload: data.offload };
    udp = new KernelUdpSocket({ ...udpOptions, address: data.bindAddress, port: data.port, counters });
    const batchBytes = Math.max(udp.receiveBufferBytes, data.offload ? OFFLOAD_BATCH_BYTES : batchPackets * (data.packetBytes + 16));
    icmpSender = KernelIcmpSender.open();
    const sender = icmpSender;
    // One construction for the real forwarder and the warm-up's, so V8 sees objects of the same shapes in both.
    const build = (tunOpener: TunOpener, parts: { udp: KernelUdpSocket; routes: UdpRouteTable; counters: DatapathCounters }, announce: boolean) => new UdpForwarder({
      tunOpener, tunName: data.tunName, udp: parts.udp, routes: parts.routes, counters: parts.counters, tunAddress: data.tunAddress, batchPackets, batchBytes,
      ...(sender ? { icmpSender: sender } : {}),
      onDevice: (device, reopened) => announce && report({ type: 'device', name: device.name, index: device.index, reopened }),
      onDeviceError: (error) => announce && report({ type: 'device-error', code: error.code, message: error.message }),
    });
    const forwarder = build(opener, { udp, routes, counters }, true);
    warmUp({
      bindAddress: data.bindAddress, packetBytes: data.packetBytes, offload: opener.lastOpenedWithOffload,
      udpOptions: { ...udpOptions, bufferBytes: WARM_UP_BUFFER_BYTES }, forwarder: (tunOpener, parts) => build(tunOpener, parts, false), real: forwarder,
    });
    return { forwarder, udp, opener, batchPackets };
  } catch (error) {
    udp?.close();
    opener?.close();
    icmpSender?.close();
    report({ type: 'failed', code: error instanceof FlannelError ? error.code : 'UDP_DATAPATH_FAILED', message: errorMessage(error) });
    return undefined;
  }
}

/**
 * The poll set and the buffer the wake-up counter is read into. The kernel writes both through raw addresses,
 * so they live at module level, reachable for the worker's lifetime: a local that the loop no longer mentions
 * (only its address) is dead to optimized code, and once collected its memory goes back to malloc while poll
 * and read still write there (seen as "malloc(): unsorted double linked list corrupted" under lease churn).
 */
const pollSet = Buffer.alloc(8192);
const wakeBuffer = Buffer.alloc(8192);

/** Loop state between rounds: which sides to pump, and whether this round follows a wake-up from poll. */
let tunReady = true;
let udpReady = true;
let woken = false;
const pollWords = new Int32Array(pollSet.buffer, pollSet.byteOffset, 6);
let pollAddress = 0;
let wakeAddress = 0;

/**
 * One round of the loop. It is a function of its own, called once per round, so V8 optimizes it as an ordinary
 * hot function: a loop that never returns is only ever entered by on-stack replacement, and its body stays in
 * the interpreter or baseline code far longer (the lone packet's crossing paid for it).
 *
 * While packets flow, pump both sides every round (a read that finds nothing is cheaper than poll). Once both
 * ports report themselves drained, sleep in poll and wake only the side that became readable: an idle wake-up
 * that carries one packet costs the poll and the calls that move it, no reads that return EAGAIN. The first
 * round after a wake-up reads one packet from the TUN and sends it before looking for more (as upstream does):
 * a lone packet leaves without waiting for the read that finds the TUN empty; a burst is pumped in full
 * batches from the next round on.
 */
function round(forwarder: UdpForwarder, batchPackets: number): void {
  if (Atomics.load(flags, FLAG_CONTROL) !== 0) {
    Atomics.store(flags, FLAG_CONTROL, 0);
    drainControl();
  }
  if (tunReady) forwarder.fromTun(woken ? 1 : batchPackets);
  if (udpReady) forwarder.fromUdp();
  if (woken) {
    // Only the side that woke us and was not read empty needs another round.
    woken = false;
    tunReady = tunReady && !forwarder.tunDrained;
    udpReady = udpReady && !forwarder.udpDrained;
    if (tunReady || udpReady) return;
  } else if ((tunReady && !forwarder.tunDrained) || (udpReady && !forwarder.udpDrained)) {
    tunReady = true;
    udpReady = true;
    return;
  }
  sleep(forwarder);
}

/** Sleeps in poll over the TUN, the socket and the wake eventfd; marks the sides that became readable. */
function sleep(forwarder: UdpForwarder): void {
  const device = forwarder.device;
  pollWords[0] = device ? device.pollDescriptor : -1;
  // events POLLIN, revents (the high half) cleared
  pollWords[1] = S.POLLIN;
  pollWords[3] = S.POLLIN;
  pollWords[5] = S.POLLIN;
  counters.add(Counter.syscallPoll);
  const ready = S.sys.poll(pollAddress, 3, IDLE_POLL_MS) as number;
  if (ready < 0 && S.errno() !== S.EINTR) throw S.errnoError('poll');
  // Readable, or POLLERR/POLLHUP (a deleted device: the read reports it and the device is reopened).
  tunReady = ready > 0 && (pollWords[1] as number) >>> 16 !== 0;
  udpReady = ready > 0 && (pollWords[3] as number) >>> 16 !== 0;
  if ((pollWords[5] as number) >>> 16 !== 0) S.sys.read(data.wakeFd, wakeAddress, 8);
  if (!device) tunReady = forwarder.ensureDevice();
  woken = tunReady || udpReady;
}

function run(forwarder: UdpForwarder, udp: KernelUdpSocket, batchPackets: number): void {
  pollAddress = S.addressOf(pollSet);
  wakeAddress = S.addressOf(wakeBuffer);
  pollWords[2] = udp.fd;
  pollWords[4] = data.wakeFd;
  while (Atomics.load(flags, FLAG_STOP) === 0) round(forwarder, batchPackets);
}

const started = start();
if (started) {
  report({ type: 'ready' });
  try {
    run(started.forwarder, started.udp, started.batchPackets);
  } finally {
    started.forwarder.close();
    started.opener.close();
  }
}
