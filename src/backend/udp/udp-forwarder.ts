/**
 * The udp backend's packet logic between a TUN device and a UDP socket, one batch at a time, behind ports (no
 * I/O of its own: the worker in src/adapters/udp/ drives it with a real TUN and socket, the component test with
 * in-memory doubles).
 *
 * TUN → UDP: every packet read from the TUN is checked (runt, not IPv4, bad IHL: dropped), looked up by its
 * destination (no route: ICMP net unreachable, see below), has its TTL
 * decremented (0: dropped) and goes to the peer's public IP and port, the whole batch in one send call.
 * UDP → TUN: every datagram must come from a current peer's public IP (else dropped: upstream forwards
 * anything that reaches its port into the pod network), is checked the same way, has its TTL decremented and
 * is written into the TUN. Each datagram carries exactly one whole inner IPv4 packet, so upstream peers
 * interoperate.
 *
 * ICMP net unreachable: built byte for byte as upstream builds it (source = our TUN address). Upstream writes it
 * back into the TUN, where the kernel drops it unseen: a packet arriving on flannel0 from one of the host's own
 * addresses is a martian. With an `icmpSender` (a raw socket) it leaves through the host's output path instead,
 * where a local source is normal, so the pod learns at once that the destination is unreachable (ping prints
 * "Destination Net Unreachable", connect() fails with ENETUNREACH) instead of waiting for a timeout. Without
 * one (no CAP_NET_RAW), it goes into the TUN as upstream's does.
 *
 * The TUN device is ours for as long as we hold it; when someone deletes it, the forwarder opens it again
 * under the same name and reports the new device (the reconciler then restores its address, MTU and route).
 */
import { Batch, Counter, type DatapathCounters } from './datapath-counters.js';
import { PacketProblem, checkIpv4, decrementTtl, destinationAddress } from './ipv4-packet.js';
import { NET_UNREACHABLE_MAX_BYTES, buildNetUnreachable } from './net-unreachable.js';
import { type IcmpSender, PacketBatch, type TunDevice, type TunOpener, type UdpPort } from './packet-ports.js';
import type { UdpRouteTable } from './route-table.js';
import { FlannelError, errorMessage } from '../../support/errors.js';

export interface UdpForwarderOptions {
  readonly tunOpener: TunOpener;
  /** Exact name or template (upstream: flannel%d). */
  readonly tunName: string;
  readonly udp: UdpPort;
  /** Where ICMP errors go (see the module comment); without one they are written into the TUN, as upstream. */
  readonly icmpSender?: IcmpSender;
  readonly routes: UdpRouteTable;
  readonly counters: DatapathCounters;
  /** Our TUN address (the lease subnet's first address, network order): the source of ICMP replies. */
  readonly tunAddress: number;
  /** Packets per batch each way (the most one call of a port may move). */
  readonly batchPackets: number;
  /** Bytes of each batch's buffer (the ports need room for their layout: see UdpDatapath). */
  readonly batchBytes: number;
  /** Called with every device the forwarder opens: the first, and each one after the device was deleted. */
  readonly onDevice: (device: TunDevice, reopened: boolean) => void;
  /** Called when the device is gone and could not be opened again (the caller retries with `ensureDevice`). */
  readonly onDeviceError: (error: FlannelError) => void;
}

const DROP_COUNTER: Record<PacketProblem, number> = {
  [PacketProblem.None]: -1,
  [PacketProblem.Runt]: Counter.dropRunt,
  [PacketProblem.NotIpv4]: Counter.dropNotIpv4,
  [PacketProblem.BadHeaderLength]: Counter.dropBadHeaderLength,
};

export class UdpForwarder {
  readonly #options: UdpForwarderOptions;
  readonly #counters: DatapathCounters;
  readonly #fromTun: PacketBatch;
  readonly #fromUdp: PacketBatch;
  readonly #sendList: Int32Array;
  readonly #reply = Buffer.alloc(NET_UNREACHABLE_MAX_BYTES);
  #device: TunDevice | undefined;
  /** The name the kernel gave the first device: a reopened device keeps it (flannel0 stays flannel0). */
  #deviceName: string;

  /** Opens the TUN device (throws FlannelError when it cannot) and reports it through onDevice. */
  constructor(options: UdpForwarderOptions) {
    this.#options = options;
    this.#counters = options.counters;
    this.#fromTun = new PacketBatch(options.batchPackets, options.batchBytes);
    this.#fromUdp = new PacketBatch(options.batchPackets, options.batchBytes);
    this.#sendList = new Int32Array(options.batchPackets);
    this.#device = options.tunOpener.open(options.tunName);
    this.#deviceName = this.#device.name;
    options.onDevice(this.#device, false);
  }

  /** True when the last `fromTun` found nothing more waiting (or there is no device to read). */
  get tunDrained(): boolean {
    return !this.#device || this.#fromTun.drained;
  }

  /** True when the last `fromUdp` found nothing more waiting. */
  get udpDrained(): boolean {
    return this.#fromUdp.drained;
  }

  /** The current device, or undefined while it is gone and could not be reopened. */
  get device(): TunDevice | undefined {
    return this.#device;
  }

  /**
   * Moves one batch of at most `limit` packets from the TUN to peers; returns how many packets it read (0: the
   * TUN had none). A limit below the batch size sends what was read without first reading the TUN empty.
   */
  fromTun(limit = this.#options.batchPackets): number {
    const device = this.#device;
    if (!device) return 0;
    const batch = this.#fromTun;
    let count: number;
    try {
      count = device.readBatch(batch, Math.min(limit, this.#options.batchPackets));
    } catch (error) {
      this.#lost(device, error);
      return 0;
    }
    if (count === 0) return 0;
    const counters = this.#counters;
    const buffer = batch.buffer;
    const routes = this.#options.routes;
    const sendList = this.#sendList;
    let sends = 0;
    let bytesRead = 0;
    let bytesToSend = 0;
    for (let index = 0; index < count; index++) {
      const offset = batch.offsets[index] as number;
      const length = batch.lengths[index] as number;
      if (length > 0) bytesRead += length;
      if (!this.#wellFormed(buffer, offset, length)) continue;
      const hop = routes.lookup(destinationAddress(buffer, offset));
      if (!hop) {
        counters.add(Counter.dropNoRoute);
        this.#replyUnreachable(device, buffer, offset, length);
        continue;
      }
      if (!this.#spendTtl(buffer, offset)) continue;
      batch.addresses[index] = hop.address;
      batch.ports[index] = hop.port;
      sendList[sends++] = index;
      bytesToSend += length;
    }
    counters.add(Counter.tunPacketsRead, count);
    counters.add(Counter.tunBytesRead, bytesRead);
    counters.recordBatch(Batch.tunRead, count);
    if (sends > 0) this.#send(batch, sends, bytesToSend);
    return count;
  }

  /** Moves one batch from peers into the TUN; returns how many packets it received (0: none waiting). */
  fromUdp(): number {
    const batch = this.#fromUdp;
    const count = this.#options.udp.receiveBatch(batch, this.#options.batchPackets);
    if (count === 0) return 0;
    const counters = this.#counters;
    const buffer = batch.buffer;
    const routes = this.#options.routes;
    const writeList = this.#sendList;
    let writes = 0;
    let bytesReceived = 0;
    let bytesToWrite = 0;
    for (let index = 0; index < count; index++) {
      const offset = batch.offsets[index] as number;
      const length = batch.lengths[index] as number;
      if (length > 0) bytesReceived += length;
      if (!this.#wellFormed(buffer, offset, length)) continue;
      if (!routes.isPeerSource(batch.addresses[index] as number)) {
        counters.add(Counter.dropUnknownSource);
        continue;
      }
      if (!this.#spendTtl(buffer, offset)) continue;
      writeList[writes++] = index;
      bytesToWrite += length;
    }
    counters.add(Counter.udpPacketsReceived, count);
    counters.add(Counter.udpBytesReceived, bytesReceived);
    counters.recordBatch(Batch.udpReceive, count);
    if (writes > 0) this.#write(batch, writes, bytesToWrite);
    return count;
  }

  /** Opens the device again if it is gone (called by the owner's loop after onDeviceError); true when present. */
  ensureDevice(): boolean {
    if (this.#device) return true;
    try {
      this.#device = this.#options.tunOpener.open(this.#deviceName);
    } catch (error) {
      // Someone took the name (e.g. made a different device flannel0): take the next free one instead.
      try {
        this.#device = this.#options.tunOpener.open(this.#options.tunName);
      } catch {
        this.#options.onDeviceError(asFlannelError(error));
        return false;
      }
    }
    this.#deviceName = this.#device.name;
    this.#counters.add(Counter.deviceReopens);
    this.#options.onDevice(this.#device, true);
    return true;
  }

  /** Closes the device (it vanishes with its descriptor), the socket and the ICMP sender. */
  close(): void {
    this.#device?.close();
    this.#device = undefined;
    this.#options.udp.close();
    this.#options.icmpSender?.close();
  }

  /** False (and counted) for a packet that was cut or is not a sound IPv4 packet. */
  #wellFormed(buffer: Buffer, offset: number, length: number): boolean {
    if (length < 0) {
      this.#counters.add(Counter.dropTruncated);
      return false;
    }
    const problem = checkIpv4(buffer, offset, length);
    if (problem === PacketProblem.None) return true;
    this.#counters.add(DROP_COUNTER[problem]);
    return false;
  }

  /** Spends one TTL (each hop does, as upstream); false (and counted) when the packet dies here. */
  #spendTtl(buffer: Buffer, offset: number): boolean {
    if (decrementTtl(buffer, offset)) return true;
    this.#counters.add(Counter.dropTtlExpired);
    return false;
  }

  #send(batch: PacketBatch, sends: number, bytesToSend: number): void {
    const counters = this.#counters;
    const sent = this.#options.udp.sendBatch(batch, this.#sendList, sends);
    const bytesSent = sent === sends ? bytesToSend : this.#bytesLeft(batch, sends);
    if (sent < sends) counters.add(Counter.dropSendFailed, sends - sent);
    counters.add(Counter.udpPacketsSent, sent);
    counters.add(Counter.udpBytesSent, bytesSent);
    counters.recordBatch(Batch.udpSend, sent);
  }

  #write(batch: PacketBatch, writes: number, bytesToWrite: number): void {
    const counters = this.#counters;
    const device = this.#device;
    let written = 0;
    if (device) {
      try {
        written = device.writeBatch(batch, this.#sendList, writes);
      } catch (error) {
        this.#lost(device, error);
        for (let index = 0; index < writes; index++) batch.lengths[this.#sendList[index] as number] = -1;
      }
    }
    const bytesWritten = written === writes ? bytesToWrite : this.#bytesLeft(batch, writes);
    if (written < writes) counters.add(Counter.dropTunWriteFailed, writes - written);
    counters.add(Counter.tunPacketsWritten, written);
    counters.add(Counter.tunBytesWritten, bytesWritten);
    counters.recordBatch(Batch.tunWrite, written);
  }

  /** Bytes of the listed packets that a port did not mark failed (−1). */
  #bytesLeft(batch: PacketBatch, count: number): number {
    let bytes = 0;
    for (let index = 0; index < count; index++) {
      const length = batch.lengths[this.#sendList[index] as number] as number;
      if (length > 0) bytes += length;
    }
    return bytes;
  }

  #replyUnreachable(device: TunDevice, buffer: Buffer, offset: number, length: number): void {
    const replyLength = buildNetUnreachable(buffer, offset, length, this.#options.tunAddress, this.#reply);
    if (replyLength === 0) return;
    const sender = this.#options.icmpSender;
    if (sender) {
      if (sender.send(this.#reply, replyLength, this.#reply.readUInt32BE(16))) this.#counters.add(Counter.icmpUnreachableSent);
      return;
    }
    let accepted = false;
    try {
      accepted = device.write(this.#reply, 0, replyLength);
    } catch (error) {
      this.#lost(device, error);
    }
    this.#counters.add(accepted ? Counter.icmpUnreachableSent : Counter.dropTunWriteFailed);
  }

  /** The device failed: if it is gone, drop it and open a new one; anything else is a bug or a broken kernel. */
  #lost(device: TunDevice, error: unknown): void {
    const failure = asFlannelError(error);
    if (failure.code !== 'TUN_GONE') throw failure;
    if (this.#device !== device) return;
    device.close();
    this.#device = undefined;
    this.ensureDevice();
  }
}

function asFlannelError(error: unknown): FlannelError {
  return error instanceof FlannelError ? error : new FlannelError('TUN_FAILED', errorMessage(error), { cause: error });
}
