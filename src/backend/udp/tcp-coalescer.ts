/**
 * TCP receive coalescing in software (what GRO does in a NIC driver), for writes into a TUN opened with
 * IFF_VNET_HDR: consecutive segments of one TCP flow become one superpacket write, which the kernel's stack
 * then handles once instead of once per segment. The rules follow Linux's tcp_gro_receive: same addresses,
 * ports, TOS, TTL, IP flags, TCP header length, options bytes, ACK number, window and flags (PSH may end the
 * run), IP ids consecutive unless DF is set, sequence numbers contiguous, every segment carrying the first
 * one's payload size except a shorter last one, nothing with SYN, FIN, RST, URG, ECE or CWR, no IP options or
 * fragments, at most 64 KiB. The superpacket's TCP checksum is left to the kernel (NEEDS_CSUM); the segments'
 * own checksums are not re-verified: the outer UDP checksum already covered every byte of them.
 */
import { foldSum, onesComplementSum } from './internet-checksum.js';
import type { PacketBatch } from './packet-ports.js';
import { VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, VIRTIO_NET_HEADER_BYTES } from './virtio-net-header.js';

const PROTOCOL_TCP = 6;
const TCP_ACK = 0x10;
const TCP_PSH = 0x08;
const MAX_SUPERPACKET_BYTES = 65535;
/** Segments per superpacket at most (the kernel's GSO limit is 64 or more; 64 KiB comes first anyway). */
const MAX_SEGMENTS = 64;
/** The largest header `writeCoalescedHeader` writes: virtio header + IPv4 without options + TCP with options. */
export const COALESCED_HEADER_MAX_BYTES = VIRTIO_NET_HEADER_BYTES + 20 + 60;

/** Payload bytes of a TCP segment eligible to start or join a run, or 0 when it is not eligible. */
function eligiblePayload(buffer: Buffer, at: number, length: number): number {
  if (length < 40 || buffer[at] !== 0x45 || buffer[at + 9] !== PROTOCOL_TCP) return 0;
  // Not a fragment: MF clear and fragment offset 0 (DF may be set).
  if (((buffer[at + 6] as number) & 0x3f) !== 0 || buffer[at + 7] !== 0) return 0;
  const flags = buffer[at + 33] as number;
  if ((flags & ~TCP_PSH) !== TCP_ACK) return 0;
  const headers = 20 + ((buffer[at + 32] as number) >> 4) * 4;
  return length > headers && headers >= 40 ? length - headers : 0;
}

/** Compares `length` bytes (a multiple of 4 here: addresses, ports, ACK, options) four at a time. */
function sameBytes(buffer: Buffer, first: number, second: number, length: number): boolean {
  for (let index = 0; index < length; index += 4) if (buffer.readInt32LE(first + index) !== buffer.readInt32LE(second + index)) return false;
  return true;
}

/**
 * How many packets, starting at `packets[start]` and ending before `packets[end]`, can be written as one
 * superpacket: 1 when the first cannot be joined by the next.
 */
export function coalescibleRun(batch: PacketBatch, packets: Int32Array, start: number, end: number): number {
  const buffer = batch.buffer;
  const first = packets[start] as number;
  const at = batch.offsets[first] as number;
  const length = batch.lengths[first] as number;
  const segmentPayload = eligiblePayload(buffer, at, length);
  if (segmentPayload === 0 || ((buffer[at + 33] as number) & TCP_PSH) !== 0) return 1;
  const headers = length - segmentPayload;
  const tcpHeader = headers - 20;
  const dontFragment = ((buffer[at + 6] as number) & 0x40) !== 0;
  const firstId = buffer.readUInt16BE(at + 4);
  let total = length;
  let nextSequence = (buffer.readUInt32BE(at + 24) + segmentPayload) >>> 0;
  let run = 1;
  while (start + run < end && run < MAX_SEGMENTS) {
    const packet = packets[start + run] as number;
    const other = batch.offsets[packet] as number;
    const otherLength = batch.lengths[packet] as number;
    const payload = eligiblePayload(buffer, other, otherLength);
    if (payload === 0 || payload > segmentPayload || otherLength - payload !== headers || total + payload > MAX_SUPERPACKET_BYTES) break;
    // TOS, TTL and protocol; flags and fragment field; addresses; ports; ACK number.
    if (buffer[other + 1] !== buffer[at + 1] || buffer[other + 8] !== buffer[at + 8] || buffer[other + 6] !== buffer[at + 6]) break;
    if (!sameBytes(buffer, at + 12, other + 12, 12) || !sameBytes(buffer, at + 28, other + 28, 4)) break;
    // Data offset, flags (PSH allowed) and window.
    if (buffer[other + 32] !== buffer[at + 32] || ((buffer[other + 33] as number) & ~TCP_PSH) !== TCP_ACK || buffer.readUInt16LE(at + 34) !== buffer.readUInt16LE(other + 34)) break;
    if (!sameBytes(buffer, at + 40, other + 40, tcpHeader - 20)) break;
    if (buffer.readUInt32BE(other + 24) !== nextSequence) break;
    if (!dontFragment && buffer.readUInt16BE(other + 4) !== ((firstId + run) & 0xffff)) break;
    total += payload;
    nextSequence = (nextSequence + payload) >>> 0;
    run++;
    if (payload < segmentPayload || ((buffer[other + 33] as number) & TCP_PSH) !== 0) break;
  }
  return run;
}

/**
 * Writes, at `out[at]`, the virtio header and IPv4 + TCP headers of the superpacket made of the `count` packets
 * from `packets[start]` (as found by coalescibleRun, count ≥ 2), and returns its length: the first packet's
 * headers with the total length, IP checksum and the last packet's flags, the TCP checksum field holding the
 * pseudo-header sum for the kernel to finish. The payloads follow in the write, each from its own packet.
 */
export function writeCoalescedHeader(batch: PacketBatch, packets: Int32Array, start: number, count: number, out: Buffer, at: number): number {
  const buffer = batch.buffer;
  const first = packets[start] as number;
  const last = packets[start + count - 1] as number;
  const from = batch.offsets[first] as number;
  const firstLength = batch.lengths[first] as number;
  const headers = 20 + ((buffer[from + 32] as number) >> 4) * 4;
  let total = headers;
  for (let index = start; index < start + count; index++) total += (batch.lengths[packets[index] as number] as number) - headers;

  const ip = at + VIRTIO_NET_HEADER_BYTES;
  out[at] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
  out[at + 1] = VIRTIO_NET_HDR_GSO_TCPV4;
  out.writeUInt16LE(headers, at + 2);
  out.writeUInt16LE(firstLength - headers, at + 4);
  out.writeUInt16LE(20, at + 6);
  out.writeUInt16LE(16, at + 8);
  buffer.copy(out, ip, from, from + headers);
  out.writeUInt16BE(total, ip + 2);
  out[ip + 10] = 0;
  out[ip + 11] = 0;
  out.writeUInt16BE(~foldSum(onesComplementSum(out, ip, 20)) & 0xffff, ip + 10);
  out[ip + 33] = buffer[(batch.offsets[last] as number) + 33] as number;
  out.writeUInt16BE(foldSum(onesComplementSum(out, ip + 12, 8) + PROTOCOL_TCP + total - 20), ip + 36);
  return VIRTIO_NET_HEADER_BYTES + headers;
}
