/**
 * TCP segmentation in software, for a TUN that hands us TSO superpackets (IFF_VNET_HDR + TUN_F_TSO4): one
 * read brings up to 64 KiB of one TCP flow behind one header, and the wire needs ordinary packets, because a
 * peer (ours or upstream's C proxy) writes each datagram into its TUN as one packet. Each segment gets a copy
 * of the headers with the IP total length, IP id (+1 per segment, as the kernel's GSO does), TCP sequence
 * number and flags (FIN and PSH only on the last, CWR only on the first) adjusted, and both checksums computed
 * in full. Also completes the transport checksum of a single packet the kernel left partial (NEEDS_CSUM).
 */
import { fastSum, foldSum, onesComplementSum } from './internet-checksum.js';
import type { PacketBatch } from './packet-ports.js';

const PROTOCOL_TCP = 6;
const PROTOCOL_UDP = 17;
const TCP_FIN = 0x01;
const TCP_PSH = 0x08;
const TCP_CWR = 0x80;

/**
 * Appends the segments of the TCP superpacket at `source[offset, offset + length)` to `batch`, each carrying
 * at most `segmentPayload` bytes. Returns how many it appended, 0 when the batch has no room for all of them
 * (nothing appended), or −1 when the superpacket is not an IPv4 TCP packet with a payload (caller drops it).
 */
export function segmentTcp(source: Buffer, offset: number, length: number, segmentPayload: number, batch: PacketBatch): number {
  if (length < 40 || (source[offset] as number) >> 4 !== 4 || source[offset + 9] !== PROTOCOL_TCP || segmentPayload < 1) return -1;
  const ipHeader = ((source[offset] as number) & 0x0f) * 4;
  if (ipHeader < 20 || ipHeader + 20 > length) return -1;
  const tcp = offset + ipHeader;
  const tcpHeader = ((source[tcp + 12] as number) >> 4) * 4;
  const headers = ipHeader + tcpHeader;
  const payload = length - headers;
  if (tcpHeader < 20 || payload < 1) return -1;
  const segments = Math.ceil(payload / segmentPayload);
  if (batch.capacity - batch.count < segments || batch.free < segments * (headers + segmentPayload + 15)) return 0;

  const target = batch.buffer;
  const firstId = (source[offset + 4] as number) * 256 + (source[offset + 5] as number);
  const firstSequence = source.readUInt32BE(tcp + 4);
  const flags = source[tcp + 13] as number;
  // Pseudo-header without the TCP length: source and destination addresses and the protocol.
  const pseudo = onesComplementSum(source, offset + 12, 8) + PROTOCOL_TCP;
  for (let segment = 0; segment < segments; segment++) {
    const carried = Math.min(segmentPayload, payload - segment * segmentPayload);
    const index = batch.append(headers + carried);
    const at = batch.offsets[index] as number;
    // Headers byte by byte: Buffer.copy makes a view per call, which costs more than copying 40-120 bytes.
    for (let byte = 0; byte < headers; byte++) target[at + byte] = source[offset + byte] as number;
    const from = offset + headers + segment * segmentPayload;
    source.copy(target, at + headers, from, from + carried);

    const total = headers + carried;
    target[at + 2] = total >>> 8;
    target[at + 3] = total & 0xff;
    const id = (firstId + segment) & 0xffff;
    target[at + 4] = id >>> 8;
    target[at + 5] = id & 0xff;
    target[at + 10] = 0;
    target[at + 11] = 0;
    const ipChecksum = ~foldSum(onesComplementSum(target, at, ipHeader)) & 0xffff;
    target[at + 10] = ipChecksum >>> 8;
    target[at + 11] = ipChecksum & 0xff;

    const segmentTcpAt = at + ipHeader;
    target.writeUInt32BE((firstSequence + segment * segmentPayload) >>> 0, segmentTcpAt + 4);
    let segmentFlags = flags;
    if (segment < segments - 1) segmentFlags &= ~(TCP_FIN | TCP_PSH);
    if (segment > 0) segmentFlags &= ~TCP_CWR;
    target[segmentTcpAt + 13] = segmentFlags;
    target[segmentTcpAt + 16] = 0;
    target[segmentTcpAt + 17] = 0;
    // The payload is summed where it was read (the TUN adapter reads into a ChecksumArena: SIMD); the TCP
    // header is even-sized, so the two sums add up to the segment's.
    const tcpLength = tcpHeader + carried;
    const headerSum = onesComplementSum(target, segmentTcpAt, tcpHeader);
    const tcpChecksum = ~foldSum(pseudo + tcpLength + headerSum + fastSum(source, from, carried)) & 0xffff;
    target[segmentTcpAt + 16] = tcpChecksum >>> 8;
    target[segmentTcpAt + 17] = tcpChecksum & 0xff;
  }
  return segments;
}

/**
 * Completes a checksum the kernel left partial (NEEDS_CSUM): the field at `start + checksumOffset` holds the
 * pseudo-header sum, and the checksum covers everything from `start` to the end. False when the offsets do
 * not fit the packet (caller drops it). A UDP checksum that comes out 0 is sent as 0xFFFF (0 means "none").
 */
export function completeChecksum(packet: Buffer, offset: number, length: number, start: number, checksumOffset: number): boolean {
  const field = start + checksumOffset;
  if (start < 20 || field + 2 > length) return false;
  let checksum = ~fastSum(packet, offset + start, length - start) & 0xffff;
  if (checksum === 0 && packet[offset + 9] === PROTOCOL_UDP) checksum = 0xffff;
  packet[offset + field] = checksum >>> 8;
  packet[offset + field + 1] = checksum & 0xff;
  return true;
}
