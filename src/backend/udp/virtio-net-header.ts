/**
 * The 10-byte virtio_net_hdr a TUN opened with IFF_VNET_HDR puts before every packet it reads and expects
 * before every packet written (linux/virtio_net.h; little-endian fields on the little-endian hosts the data
 * path supports). With TUNSETOFFLOAD(TUN_F_CSUM | TUN_F_TSO4) the kernel hands us TCP superpackets of up to
 * 64 KiB (gsoType TCPV4, gsoSize = MSS) and packets whose transport checksum is left to us (NEEDS_CSUM: the
 * field holds only the pseudo-header sum); we may hand it the same.
 */

export const VIRTIO_NET_HEADER_BYTES = 10;
export const VIRTIO_NET_HDR_F_NEEDS_CSUM = 1;
export const VIRTIO_NET_HDR_GSO_NONE = 0;
export const VIRTIO_NET_HDR_GSO_TCPV4 = 1;
export const VIRTIO_NET_HDR_GSO_ECN = 0x80;

export interface VirtioNetHeader {
  flags: number;
  gsoType: number;
  /** Bytes of headers (IP + TCP) in a superpacket. */
  headerLength: number;
  /** Payload bytes per segment (the MSS) of a superpacket. */
  gsoSize: number;
  /** With NEEDS_CSUM: where the checksummed part starts, and where in it the checksum field is. */
  checksumStart: number;
  checksumOffset: number;
}

export function readVirtioNetHeader(data: Uint8Array, offset: number, into: VirtioNetHeader): VirtioNetHeader {
  into.flags = data[offset] as number;
  into.gsoType = data[offset + 1] as number;
  into.headerLength = readUint16Le(data, offset + 2);
  into.gsoSize = readUint16Le(data, offset + 4);
  into.checksumStart = readUint16Le(data, offset + 6);
  into.checksumOffset = readUint16Le(data, offset + 8);
  return into;
}

export function writeVirtioNetHeader(data: Uint8Array, offset: number, header: VirtioNetHeader): void {
  data[offset] = header.flags;
  data[offset + 1] = header.gsoType;
  writeUint16Le(data, offset + 2, header.headerLength);
  writeUint16Le(data, offset + 4, header.gsoSize);
  writeUint16Le(data, offset + 6, header.checksumStart);
  writeUint16Le(data, offset + 8, header.checksumOffset);
}

export function emptyVirtioNetHeader(): VirtioNetHeader {
  return { flags: 0, gsoType: VIRTIO_NET_HDR_GSO_NONE, headerLength: 0, gsoSize: 0, checksumStart: 0, checksumOffset: 0 };
}

function readUint16Le(data: Uint8Array, at: number): number {
  return (data[at] as number) | ((data[at + 1] as number) << 8);
}

function writeUint16Le(data: Uint8Array, at: number, value: number): void {
  data[at] = value & 0xff;
  data[at + 1] = (value >>> 8) & 0xff;
}
