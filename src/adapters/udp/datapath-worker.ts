/**
 * Worker thread body of the udp data path: owns the TUN device and the UDP socket and runs the forwarder in a
 * loop that never yields to an event loop (a blocking FFI loop on the main thread would starve signals): the
 * DatapathLoop (datapath-loop.ts) drains both directions while packets flow and sleeps in poll() over the TUN,
 * the socket and a wake eventfd when both are idle. The warm-up runs a loop of its own before the first packet.
 *
 * Control from the owner, without stalling the data path: route changes arrive as messages pulled
 * synchronously between batches when the shared "control pending" flag is set; the owner writes the eventfd so
 * an idle loop wakes at once. The shared stop flag ends the loop at the next batch; the descriptors close
 * (the TUN device vanishes with them) and the worker exits.
 *
 * Reports to the owner: `ready`, `device` (each device opened: the first and every reopen after someone
 * deleted it), `device-error` (gone and not reopenable yet; retried every second), `failed` (could not start).
 */
import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import { DatapathCounters } from '../../backend/udp/datapath-counters.js';
import type { TunOpener } from '../../backend/udp/packet-ports.js';
import { type DatapathWorkerData, type WorkerReport } from './datapath-protocol.js';
import { UdpRouteTable } from '../../backend/udp/route-table.js';
import { UdpForwarder } from '../../backend/udp/udp-forwarder.js';
import { FlannelError, errorMessage } from '../../support/errors.js';
import { DatapathLoop } from './datapath-loop.js';
import { type LoopParts, warmUp } from './datapath-warm-up.js';
import { KernelIcmpSender } from './kernel-icmp-sender.js';
import { KernelTunOpener } from './kernel-tun.js';
import { KernelUdpSocket } from './kernel-udp-socket.js';

const IDLE_POLL_MS = 1000;

const data = workerData as DatapathWorkerData;
const flags = new Int32Array(data.flags);
const counters = new DatapathCounters(data.counters);
const routes = new UdpRouteTable();
const report = (message: WorkerReport) => parentPort?.postMessage(message);

/** With offloads a batch holds 16 GRO buffers of 64 KiB on receive, or the segments of ~14 superpackets. */
const OFFLOAD_BATCH_BYTES = 16 * 65536;
const OFFLOAD_BATCH_PACKETS = 2048;
/** The warm-up socket's buffers: it never holds more than one datagram. */
const WARM_UP_BUFFER_BYTES = 256 * 1024;

function start(): { forwarder: UdpForwarder; loop: DatapathLoop; opener: KernelTunOpener } | undefined {
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
    // The same for the loops: the warm-up's never sleeps, and its flags, wake eventfd and control port are its own.
    const buildLoop = (loopForwarder: UdpForwarder, parts: LoopParts, real: boolean) => new DatapathLoop({
      forwarder: loopForwarder, udpFd: parts.udp.fd, batchPackets, counters: parts.counters, routes: parts.routes,
      flags: parts.flags, wakeFd: parts.wakeFd, controlPort: parts.controlPort, idlePollMs: real ? IDLE_POLL_MS : 0,
    });
    const loop = buildLoop(forwarder, { udp, counters, routes, flags, wakeFd: data.wakeFd, controlPort: parentPort as MessagePort }, true);
    warmUp({
      bindAddress: data.bindAddress, packetBytes: data.packetBytes, offload: opener.lastOpenedWithOffload,
      udpOptions: { ...udpOptions, bufferBytes: WARM_UP_BUFFER_BYTES }, forwarder: (tunOpener, parts) => build(tunOpener, parts, false), real: forwarder,
      loop: (loopForwarder, parts) => buildLoop(loopForwarder, parts, false),
    });
    return { forwarder, loop, opener };
  } catch (error) {
    udp?.close();
    opener?.close();
    icmpSender?.close();
    report({ type: 'failed', code: error instanceof FlannelError ? error.code : 'UDP_DATAPATH_FAILED', message: errorMessage(error) });
    return undefined;
  }
}

/** Rounds per `run` call: the loop returns only to be called again (or when the stop flag is set). */
const ROUNDS_PER_RUN = 1_000_000;

const started = start();
if (started) {
  report({ type: 'ready' });
  try {
    while (started.loop.run(ROUNDS_PER_RUN));
  } finally {
    started.forwarder.close();
    started.opener.close();
  }
}
