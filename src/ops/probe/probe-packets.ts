/**
 * The bytes of overlay probes, pure: an ICMP echo request, the IPv4 packet carrying it (upstream udp's wire
 * format is exactly this packet as the UDP payload), the VXLAN frame carrying that (RFC 7348: 8-byte header with
 * the I flag and the VNI, then the inner Ethernet frame), and the parsing of an echo reply as a raw ICMP socket
 * receives it (IPv4 header included).
 */
import { IpAddress } from '../../net/ip.js';
import type { MacAddress } from '../../net/mac.js';

export const ICMP_ECHO_REPLY = 0;
export const ICMP_ECHO_REQUEST = 8;
const PAYLOAD = Buffer.from('flannel-probe');

/** RFC 1071 Internet checksum. */
export function internetChecksum(bytes: Uint8Array): number {
  let sum = 0;
  for (let index = 0; index + 1 < bytes.length; index += 2) sum += ((bytes[index] as number) << 8) | (bytes[index + 1] as number);
  if (bytes.length % 2 === 1) sum += (bytes[bytes.length - 1] as number) << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

export function encodeIcmpEcho(identifier: number, sequence: number): Buffer {
  const message = Buffer.alloc(8 + PAYLOAD.length);
  message[0] = ICMP_ECHO_REQUEST;
  message.writeUInt16BE(identifier & 0xffff, 4);
  message.writeUInt16BE(sequence & 0xffff, 6);
  PAYLOAD.copy(message, 8);
  message.writeUInt16BE(internetChecksum(message), 2);
  return message;
}

/** An IPv4 packet (no options, DF clear) around `payload` of protocol `protocol`. */
export function encodeIpv4(source: IpAddress, destination: IpAddress, protocol: number, payload: Buffer, ttl = 64): Buffer {
  const header = Buffer.alloc(20);
  header[0] = 0x45;
  header.writeUInt16BE(20 + payload.length, 2);
  header[8] = ttl;
  header[9] = protocol;
  source.toBytes().copy(header, 12);
  destination.toBytes().copy(header, 16);
  header.writeUInt16BE(internetChecksum(header), 10);
  return Buffer.concat([header, payload]);
}

export function encodeVxlanFrame(vni: number, destinationMac: MacAddress, sourceMac: MacAddress, ipv4Packet: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header[0] = 0x08;
  header.writeUIntBE(vni & 0xffffff, 4, 3);
  return Buffer.concat([header, destinationMac.toBytes(), sourceMac.toBytes(), Buffer.from([0x08, 0x00]), ipv4Packet]);
}

export interface EchoReply {
  readonly source: IpAddress;
  readonly identifier: number;
  readonly sequence: number;
}

/** An ICMP echo reply in an IPv4 packet; undefined for anything else or anything malformed. */
export function parseEchoReply(packet: Uint8Array): EchoReply | undefined {
  if (packet.length < 20 || (packet[0] as number) >> 4 !== 4 || packet[9] !== 1) return undefined;
  const headerLength = ((packet[0] as number) & 0x0f) * 4;
  if (headerLength < 20 || packet.length < headerLength + 8 || packet[headerLength] !== ICMP_ECHO_REPLY) return undefined;
  const view = Buffer.from(packet.buffer, packet.byteOffset, packet.length);
  return { source: IpAddress.fromBytes(view.subarray(12, 16)), identifier: view.readUInt16BE(headerLength + 4), sequence: view.readUInt16BE(headerLength + 6) };
}
