/**
 * The IPv4 header arithmetic of the udp data path, on packets in place (a buffer and an offset; no copies, no
 * allocation: this runs once per packet). Byte order is the wire's: addresses come back as unsigned 32-bit
 * numbers in network order (10.244.1.0 is 0x0af40100).
 */

/** An IPv4 header without options. */
export const IPV4_HEADER_BYTES = 20;

/** Why a packet is not forwarded (the names double as counter names). */
export const enum PacketProblem {
  None = 0,
  /** Shorter than an IPv4 header. */
  Runt = 1,
  /** Version field is not 4 (IPv6, garbage). */
  NotIpv4 = 2,
  /** IHL below 5 words or beyond the packet. */
  BadHeaderLength = 3,
}

/**
 * Checks what the forwarder relies on before it reads any field: at least 20 bytes, version 4, an IHL of 5 or
 * more words that fits in the packet. Upstream checks only the 20 bytes and would forward anything else; an
 * IPv6 packet the TUN emits would otherwise be "routed" by four bytes of its source address.
 */
export function checkIpv4(packet: Uint8Array, offset: number, length: number): PacketProblem {
  if (length < IPV4_HEADER_BYTES) return PacketProblem.Runt;
  const first = packet[offset] as number;
  if (first >> 4 !== 4) return PacketProblem.NotIpv4;
  const headerBytes = (first & 0x0f) * 4;
  if (headerBytes < IPV4_HEADER_BYTES || headerBytes > length) return PacketProblem.BadHeaderLength;
  return PacketProblem.None;
}

export function sourceAddress(packet: Uint8Array, offset: number): number {
  return readUint32(packet, offset + 12);
}

export function destinationAddress(packet: Uint8Array, offset: number): number {
  return readUint32(packet, offset + 16);
}

/** Header length in bytes from the IHL field. */
export function headerLength(packet: Uint8Array, offset: number): number {
  return ((packet[offset] as number) & 0x0f) * 4;
}

export function readUint32(packet: Uint8Array, at: number): number {
  return (((packet[at] as number) << 24) | ((packet[at + 1] as number) << 16) | ((packet[at + 2] as number) << 8) | (packet[at + 3] as number)) >>> 0;
}

export function writeUint32(packet: Uint8Array, at: number, value: number): void {
  packet[at] = value >>> 24;
  packet[at + 1] = (value >>> 16) & 0xff;
  packet[at + 2] = (value >>> 8) & 0xff;
  packet[at + 3] = value & 0xff;
}

/**
 * RFC 1624 equation 3: the new header checksum HC' = ~(~HC + ~m + m') after one 16-bit word of the header
 * changed from m to m' (all in one's complement arithmetic). Unlike equation 2 it never yields 0xFFFF for a
 * header whose sum is not zero.
 */
export function incrementalChecksum(checksum: number, oldWord: number, newWord: number): number {
  let sum = (~checksum & 0xffff) + (~oldWord & 0xffff) + (newWord & 0xffff);
  sum = (sum & 0xffff) + (sum >>> 16);
  sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/**
 * Decrements the TTL in place and patches the checksum incrementally, as each udp hop does (upstream, on send
 * and on receive). Returns false — packet to be dropped, header left as it was — when the TTL is 0 or would
 * become 0. Lowering the TTL byte lowers the word (TTL, protocol) by 0x0100, so by equation 3 the checksum
 * becomes ~(~HC + 0xFEFF); that is bit for bit what upstream's C computes (its byte-swapped "+1, or +2 past
 * 0xFFFE" on little-endian), including 0xFEFF → 0x0000. Upstream turns a TTL of 0 into 255 and forwards it;
 * we drop it.
 */
export function decrementTtl(packet: Uint8Array, offset: number): boolean {
  const ttl = packet[offset + 8] as number;
  if (ttl <= 1) return false;
  packet[offset + 8] = ttl - 1;
  const checksum = ((packet[offset + 10] as number) << 8) | (packet[offset + 11] as number);
  let sum = (~checksum & 0xffff) + 0xfeff;
  sum = (sum & 0xffff) + (sum >>> 16);
  const patched = ~sum & 0xffff;
  packet[offset + 10] = patched >>> 8;
  packet[offset + 11] = patched & 0xff;
  return true;
}
