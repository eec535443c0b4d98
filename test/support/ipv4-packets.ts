/** Hand-built IPv4 packets for the udp data path tests (valid header checksums; ICMP checksums valid too). */
import { internetChecksum } from '../../src/backend/udp/internet-checksum.js';
import { IpAddress } from '../../src/net/ip.js';

export const ipNumber = (text: string) => Number(IpAddress.parse(text).value);

export function ipv4(options: { source: string; destination: string; protocol: number; ttl?: number; payload: Uint8Array; id?: number; fragment?: number }): Buffer {
  const packet = Buffer.alloc(20 + options.payload.length);
  packet[0] = 0x45;
  packet.writeUInt16BE(packet.length, 2);
  packet.writeUInt16BE(options.id ?? 0x1234, 4);
  packet.writeUInt16BE(options.fragment ?? 0x4000, 6);
  packet[8] = options.ttl ?? 64;
  packet[9] = options.protocol;
  packet.writeUInt32BE(ipNumber(options.source), 12);
  packet.writeUInt32BE(ipNumber(options.destination), 16);
  packet.writeUInt16BE(internetChecksum(packet, 0, 20), 10);
  packet.set(options.payload, 20);
  return packet;
}

/** An ICMP echo request (type 8) or reply (type 0) with `data`. */
export function icmpEcho(source: string, destination: string, options: { reply?: boolean; ttl?: number; sequence?: number; data?: string } = {}): Buffer {
  const data = Buffer.from(options.data ?? 'flannel-ts udp');
  const icmp = Buffer.alloc(8 + data.length);
  icmp[0] = options.reply ? 0 : 8;
  icmp.writeUInt16BE(0x4242, 4);
  icmp.writeUInt16BE(options.sequence ?? 1, 6);
  icmp.set(data, 8);
  icmp.writeUInt16BE(internetChecksum(icmp, 0, icmp.length), 2);
  return ipv4({ source, destination, protocol: 1, payload: icmp, ...(options.ttl === undefined ? {} : { ttl: options.ttl }) });
}

/** A UDP datagram (UDP checksum 0: "none", legal for IPv4). */
export function udpPacket(source: string, destination: string, payload: string, options: { ttl?: number; sourcePort?: number; destinationPort?: number } = {}): Buffer {
  const body = Buffer.from(payload);
  const udp = Buffer.alloc(8 + body.length);
  udp.writeUInt16BE(options.sourcePort ?? 40000, 0);
  udp.writeUInt16BE(options.destinationPort ?? 5000, 2);
  udp.writeUInt16BE(udp.length, 4);
  udp.set(body, 8);
  return ipv4({ source, destination, protocol: 17, payload: udp, ...(options.ttl === undefined ? {} : { ttl: options.ttl }) });
}

/** The echo reply a host's kernel would send for `request` (addresses swapped, fresh TTL 64). */
export function echoReplyTo(request: Uint8Array): Buffer {
  const packet = Buffer.from(request);
  const source = `${packet[12]}.${packet[13]}.${packet[14]}.${packet[15]}`;
  const destination = `${packet[16]}.${packet[17]}.${packet[18]}.${packet[19]}`;
  const data = packet.subarray(28).toString();
  return icmpEcho(destination, source, { reply: true, sequence: packet.readUInt16BE(26), data });
}

export function headerIsValid(packet: Uint8Array): boolean {
  return internetChecksum(packet, 0, ((packet[0] as number) & 0x0f) * 4) === 0;
}

export interface TcpSegmentOptions {
  source?: string;
  destination?: string;
  sourcePort?: number;
  destinationPort?: number;
  sequence?: number;
  ack?: number;
  /** TCP flags byte (default ACK). */
  flags?: number;
  window?: number;
  /** TCP options, a multiple of 4 bytes (default: NOP NOP timestamps). */
  options?: Buffer;
  payload?: Buffer;
  id?: number;
  ttl?: number;
  /** IP flags + fragment offset word (default DF). */
  fragment?: number;
}

export const TIMESTAMPS = Buffer.from('0101080a0000100000002000', 'hex');

/** A TCP segment (or, with a large payload, a TSO superpacket) with valid IP and TCP checksums. */
export function tcpSegment(options: TcpSegmentOptions = {}): Buffer {
  const tcpOptions = options.options ?? TIMESTAMPS;
  const payload = options.payload ?? Buffer.from('tcp payload');
  const tcp = Buffer.alloc(20 + tcpOptions.length + payload.length);
  tcp.writeUInt16BE(options.sourcePort ?? 40000, 0);
  tcp.writeUInt16BE(options.destinationPort ?? 5201, 2);
  tcp.writeUInt32BE((options.sequence ?? 1000) >>> 0, 4);
  tcp.writeUInt32BE((options.ack ?? 777) >>> 0, 8);
  tcp[12] = ((20 + tcpOptions.length) / 4) << 4;
  tcp[13] = options.flags ?? 0x10;
  tcp.writeUInt16BE(options.window ?? 501, 14);
  tcpOptions.copy(tcp, 20);
  payload.copy(tcp, 20 + tcpOptions.length);
  const packet = ipv4({
    source: options.source ?? '10.244.1.2', destination: options.destination ?? '10.244.2.2', protocol: 6, payload: tcp,
    id: options.id ?? 0x1000, fragment: options.fragment ?? 0x4000, ...(options.ttl === undefined ? {} : { ttl: options.ttl }),
  });
  packet.writeUInt16BE(transportChecksum(packet), 36);
  return packet;
}

/** The TCP/UDP checksum of an IPv4 packet as it should be (computed with the field taken as zero). */
export function transportChecksum(packet: Buffer): number {
  const headerBytes = ((packet[0] as number) & 0x0f) * 4;
  const segment = Buffer.from(packet.subarray(headerBytes));
  segment.writeUInt16BE(0, packet[9] === 17 ? 6 : 16);
  const pseudo = Buffer.alloc(12);
  packet.copy(pseudo, 0, 12, 20);
  pseudo[9] = packet[9] as number;
  pseudo.writeUInt16BE(segment.length, 10);
  return internetChecksum(Buffer.concat([pseudo, segment]), 0, 12 + segment.length);
}

/** True when the packet's TCP/UDP checksum is right. */
export function transportChecksumIsValid(packet: Buffer): boolean {
  const headerBytes = ((packet[0] as number) & 0x0f) * 4;
  return packet.readUInt16BE(headerBytes + (packet[9] === 17 ? 6 : 16)) === transportChecksum(packet);
}
