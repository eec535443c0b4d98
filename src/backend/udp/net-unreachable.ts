/**
 * The ICMP "destination unreachable / net unreachable" (type 3, code 0) the udp data path writes back into the
 * TUN when a packet read from it matches no peer's subnet, built byte for byte as upstream's proxy builds it:
 * a 20-byte IPv4 header (TTL 8, protocol ICMP, id 0, no flags, source = our TUN address, destination = the
 * offender's source), the 8-byte ICMP header (rest-of-header zero), then the offender's IP header and the
 * first 8 bytes of its payload.
 */
import { internetChecksum } from './internet-checksum.js';
import { IPV4_HEADER_BYTES, headerLength, readUint32, writeUint32 } from './ipv4-packet.js';

const ICMP_HEADER_BYTES = 8;
const PROTOCOL_ICMP = 1;
/** Upstream refuses offenders whose header reaches 20 + MAX_IPOPTLEN (40) bytes, i.e. IHL 15. */
const MAX_OFFENDER_HEADER_BYTES = 60;

/** Room an output buffer needs for any reply. */
export const NET_UNREACHABLE_MAX_BYTES = IPV4_HEADER_BYTES + ICMP_HEADER_BYTES + MAX_OFFENDER_HEADER_BYTES + 8;

/**
 * Writes the reply for the offender at `packet[offset, offset + length)` (already checked by checkIpv4) into
 * `out` from 0 and returns its length, or returns 0 when none is due: the offender is ICMP itself (RFC 792:
 * no ICMP about ICMP, which also stops loops), a non-first fragment, or has a 60-byte header. An offender
 * shorter than its header + 8 bytes is zero-padded (upstream copies whatever its buffer held there).
 */
export function buildNetUnreachable(packet: Uint8Array, offset: number, length: number, tunAddress: number, out: Uint8Array): number {
  const offenderHeaderBytes = headerLength(packet, offset);
  if (offenderHeaderBytes >= MAX_OFFENDER_HEADER_BYTES) return 0;
  if (packet[offset + 9] === PROTOCOL_ICMP) return 0;
  const fragmentOffset = (((packet[offset + 6] as number) & 0x1f) << 8) | (packet[offset + 7] as number);
  if (fragmentOffset !== 0) return 0;

  const quoted = offenderHeaderBytes + 8;
  const total = IPV4_HEADER_BYTES + ICMP_HEADER_BYTES + quoted;
  out.fill(0, 0, total);
  out[0] = 0x45;
  out[2] = total >>> 8;
  out[3] = total & 0xff;
  out[8] = 8;
  out[9] = PROTOCOL_ICMP;
  writeUint32(out, 12, tunAddress);
  writeUint32(out, 16, readUint32(packet, offset + 12));
  const ipChecksum = internetChecksum(out, 0, IPV4_HEADER_BYTES);
  out[10] = ipChecksum >>> 8;
  out[11] = ipChecksum & 0xff;

  const icmp = IPV4_HEADER_BYTES;
  out[icmp] = 3;
  out[icmp + 1] = 0;
  const available = Math.min(quoted, length);
  out.set(packet.subarray(offset, offset + available), icmp + ICMP_HEADER_BYTES);
  const icmpChecksum = internetChecksum(out, icmp, ICMP_HEADER_BYTES + quoted);
  out[icmp + 2] = icmpChecksum >>> 8;
  out[icmp + 3] = icmpChecksum & 0xff;
  return total;
}
