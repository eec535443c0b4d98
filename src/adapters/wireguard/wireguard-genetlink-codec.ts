/**
 * The kernel WireGuard generic-netlink messages (include/uapi/linux/wireguard.h, family "wireguard" v1):
 * WG_CMD_SET_DEVICE requests and WG_CMD_GET_DEVICE dump replies. Pure: Buffers in and out.
 *
 * Layout notes from the header: NLA_U16/U32 values are host order (little-endian here), ports inside
 * `sockaddr_in[6]` are network order; peers and allowed IPs are arrays of nested attributes of type 0. A set
 * request larger than one message is split (the header's advice): device fields and REPLACE_PEERS only in the
 * first message, and a peer whose allowed IPs do not fit continues in the next message with only its public
 * key and the remaining allowed IPs (REPLACE_ALLOWEDIPS only in its first fragment). A dump splits the same way;
 * `decodeDeviceDump` coalesces adjacent fragments of one peer.
 */
import { Cidr, IpAddress } from '../../net/ip.js';
import { FlannelError } from '../../support/errors.js';
import { type WireguardDeviceChange, type WireguardDeviceState, type WireguardEndpoint, type WireguardPeerBuilder, type WireguardPeerChange, type WireguardPeerState, newPeerBuilder } from '../../backend/wireguard/wireguard-control.js';
import { WireguardKey } from '../../backend/wireguard/wireguard-key.js';
import { AttributeWriter, attributeString } from '../netlink/codec.js';
import { type Attribute, GENL_HDRLEN, encodeGenlPayload, listAttributes } from './genetlink-codec.js';

export const WG_GENL_NAME = 'wireguard';
export const WG_GENL_VERSION = 1;
export const WG_CMD_GET_DEVICE = 0;
export const WG_CMD_SET_DEVICE = 1;
const WGDEVICE_F_REPLACE_PEERS = 1;
const WGDEVICE_A_IFINDEX = 1;
const WGDEVICE_A_IFNAME = 2;
const WGDEVICE_A_PRIVATE_KEY = 3;
const WGDEVICE_A_PUBLIC_KEY = 4;
const WGDEVICE_A_FLAGS = 5;
const WGDEVICE_A_LISTEN_PORT = 6;
const WGDEVICE_A_FWMARK = 7;
const WGDEVICE_A_PEERS = 8;
const WGPEER_F_REMOVE_ME = 1;
const WGPEER_F_REPLACE_ALLOWEDIPS = 2;
const WGPEER_F_UPDATE_ONLY = 4;
const WGPEER_A_PUBLIC_KEY = 1;
const WGPEER_A_PRESHARED_KEY = 2;
const WGPEER_A_FLAGS = 3;
const WGPEER_A_ENDPOINT = 4;
const WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL = 5;
const WGPEER_A_LAST_HANDSHAKE_TIME = 6;
const WGPEER_A_RX_BYTES = 7;
const WGPEER_A_TX_BYTES = 8;
const WGPEER_A_ALLOWEDIPS = 9;
const WGALLOWEDIP_A_FAMILY = 1;
const WGALLOWEDIP_A_IPADDR = 2;
const WGALLOWEDIP_A_CIDR_MASK = 3;
const AF_INET = 2;
const AF_INET6 = 10;
/** Payload budget per set message (genl header + attributes): what libmnl's buffers allow, with room to spare. */
export const WG_SET_MESSAGE_BYTES = 8192;
const NLA_HDRLEN = 4;
const NLA_F_NESTED = 0x8000;

const u16 = (value: number): Buffer => {
  const buffer = Buffer.alloc(2);
  buffer.writeUInt16LE(value, 0);
  return buffer;
};

/** The kernel's NLA_U16 fields: refuse what would not fit (as the UAPI answers EINVAL). */
function checkU16(what: string, value: number | undefined): void {
  if (value !== undefined && (!Number.isInteger(value) || value < 0 || value > 0xffff)) {
    throw new FlannelError('EINVAL', `wireguard: ${what} ${value} is not in 0..65535`);
  }
}

/** WG_CMD_GET_DEVICE (to be sent with NLM_F_DUMP) for the device named `name`. */
export function encodeGetDevice(name: string): Buffer {
  return encodeGenlPayload(WG_CMD_GET_DEVICE, WG_GENL_VERSION, new AttributeWriter().string(WGDEVICE_A_IFNAME, name).toBuffer());
}

/** `struct sockaddr_in` (16 bytes) or `struct sockaddr_in6` (28 bytes). */
export function encodeSockaddr(endpoint: WireguardEndpoint): Buffer {
  const v6 = endpoint.ip.family === 6;
  const buffer = Buffer.alloc(v6 ? 28 : 16);
  buffer.writeUInt16LE(v6 ? AF_INET6 : AF_INET, 0);
  buffer.writeUInt16BE(endpoint.port, 2);
  endpoint.ip.toBytes().copy(buffer, v6 ? 8 : 4);
  return buffer;
}

export function decodeSockaddr(value: Buffer): WireguardEndpoint | undefined {
  if (value.length < 2) return undefined;
  const family = value.readUInt16LE(0);
  if (family === AF_INET && value.length >= 8) return { ip: IpAddress.fromBytes(value.subarray(4, 8)), port: value.readUInt16BE(2) };
  if (family === AF_INET6 && value.length >= 24) return { ip: IpAddress.fromBytes(value.subarray(8, 24)), port: value.readUInt16BE(2) };
  return undefined;
}

function allowedIpEntry(cidr: Cidr): Buffer {
  const masked = cidr.masked();
  return new AttributeWriter()
    .nested(0, (entry) => entry.bytes(WGALLOWEDIP_A_FAMILY, u16(masked.family === 6 ? AF_INET6 : AF_INET)).bytes(WGALLOWEDIP_A_IPADDR, masked.ip.toBytes()).u8(WGALLOWEDIP_A_CIDR_MASK, masked.prefixLength))
    .toBuffer();
}

/** A peer's own attributes (everything but allowed IPs) for its first fragment. */
function peerHeader(peer: WireguardPeerChange): Buffer {
  const writer = new AttributeWriter().bytes(WGPEER_A_PUBLIC_KEY, peer.publicKey.toBytes());
  let flags = 0;
  if (peer.remove) flags |= WGPEER_F_REMOVE_ME;
  if (peer.updateOnly) flags |= WGPEER_F_UPDATE_ONLY;
  if (peer.replaceAllowedIps && !peer.remove) flags |= WGPEER_F_REPLACE_ALLOWEDIPS;
  if (flags !== 0) writer.u32(WGPEER_A_FLAGS, flags);
  if (!peer.remove) {
    if (peer.presharedKey !== undefined) writer.bytes(WGPEER_A_PRESHARED_KEY, (peer.presharedKey ?? WireguardKey.ZERO).toBytes());
    if (peer.endpoint) writer.bytes(WGPEER_A_ENDPOINT, encodeSockaddr(peer.endpoint));
    if (peer.persistentKeepaliveSeconds !== undefined) writer.bytes(WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL, u16(peer.persistentKeepaliveSeconds));
  }
  return writer.toBuffer();
}

/** A nested attribute (NLA_F_NESTED set, as libmnl does) around already-encoded attributes. */
function nest(type: number, body: Buffer): Buffer {
  const header = Buffer.alloc(NLA_HDRLEN);
  header.writeUInt16LE(NLA_HDRLEN + body.length, 0);
  header.writeUInt16LE(type | NLA_F_NESTED, 2);
  return Buffer.concat([header, body]);
}

/**
 * WG_CMD_SET_DEVICE payloads for `change` (each sent as its own NLM_F_REQUEST | NLM_F_ACK message, in order).
 * Each payload stays within `maxBytes` unless one allowed IP alone cannot fit beside a peer's header.
 */
export function encodeSetDevice(name: string, change: WireguardDeviceChange, maxBytes = WG_SET_MESSAGE_BYTES): Buffer[] {
  checkU16('listen port', change.listenPort);
  for (const peer of change.peers ?? []) checkU16('persistent keepalive interval', peer.persistentKeepaliveSeconds);
  const base = (first: boolean): Buffer => {
    const writer = new AttributeWriter().string(WGDEVICE_A_IFNAME, name);
    if (first) {
      if (change.privateKey) writer.bytes(WGDEVICE_A_PRIVATE_KEY, change.privateKey.toBytes());
      if (change.listenPort !== undefined) writer.bytes(WGDEVICE_A_LISTEN_PORT, u16(change.listenPort));
      if (change.fwmark !== undefined) writer.u32(WGDEVICE_A_FWMARK, change.fwmark);
      if (change.replacePeers) writer.u32(WGDEVICE_A_FLAGS, WGDEVICE_F_REPLACE_PEERS);
    }
    return encodeGenlPayload(WG_CMD_SET_DEVICE, WG_GENL_VERSION, writer.toBuffer());
  };
  const messages: Buffer[] = [];
  let head = base(true);
  let peers: Buffer[] = [];
  let used = head.length + NLA_HDRLEN;
  const flush = () => {
    messages.push(peers.length > 0 ? Buffer.concat([head, nest(WGDEVICE_A_PEERS, Buffer.concat(peers))]) : head);
    head = base(false);
    peers = [];
    used = head.length + NLA_HDRLEN;
  };
  for (const peer of change.peers ?? []) {
    const entries = peer.remove ? [] : (peer.allowedIps ?? []).map(allowedIpEntry);
    let next = 0;
    let header = peerHeader(peer);
    for (;;) {
      // Room for this fragment's header plus at least one allowed IP (if any remain); else a fresh message.
      const minimum = NLA_HDRLEN + header.length + (next < entries.length ? NLA_HDRLEN + (entries[next]?.length ?? 0) : 0);
      if (peers.length > 0 && used + minimum > maxBytes) flush();
      let size = NLA_HDRLEN + header.length;
      const taken: Buffer[] = [];
      while (next < entries.length) {
        const entry = entries[next] as Buffer;
        const extra = entry.length + (taken.length === 0 ? NLA_HDRLEN : 0);
        if (taken.length > 0 && used + size + extra > maxBytes) break;
        taken.push(entry);
        size += extra;
        next++;
      }
      const body = taken.length > 0 ? Buffer.concat([header, nest(WGPEER_A_ALLOWEDIPS, Buffer.concat(taken))]) : header;
      peers.push(nest(0, body));
      used += NLA_HDRLEN + body.length;
      if (next >= entries.length) break;
      flush();
      header = new AttributeWriter().bytes(WGPEER_A_PUBLIC_KEY, peer.publicKey.toBytes()).toBuffer();
    }
  }
  if (peers.length > 0 || messages.length === 0) flush();
  return messages;
}

/** Coalesces the payloads of a WG_CMD_GET_DEVICE dump (genl header included) into one device state. */
export function decodeDeviceDump(payloads: readonly Buffer[], fallbackName: string): WireguardDeviceState {
  let name = fallbackName;
  let privateKey: WireguardKey | undefined;
  let listenPort = 0;
  let fwmark = 0;
  const peers: WireguardPeerBuilder[] = [];
  for (const payload of payloads) {
    for (const attribute of listAttributes(payload, GENL_HDRLEN)) {
      const value = attribute.value;
      if (attribute.type === WGDEVICE_A_IFNAME) name = attributeString(value) ?? name;
      else if (attribute.type === WGDEVICE_A_PRIVATE_KEY && value.length === 32) privateKey = WireguardKey.fromBytes(value);
      else if (attribute.type === WGDEVICE_A_LISTEN_PORT && value.length >= 2) listenPort = value.readUInt16LE(0);
      else if (attribute.type === WGDEVICE_A_FWMARK && value.length >= 4) fwmark = value.readUInt32LE(0);
      else if (attribute.type === WGDEVICE_A_PEERS) {
        for (const entry of listAttributes(value)) addPeerFragment(peers, listAttributes(entry.value));
      }
    }
  }
  return {
    name,
    ...(privateKey && !privateKey.isZero() ? { privateKey, publicKey: privateKey.publicKey() } : {}),
    listenPort,
    fwmark,
    peers: peers.map((peer): WireguardPeerState => ({ ...peer })),
  };
}

/** One peer entry; a fragment continuing the previous peer (same key, adjacent) only adds allowed IPs. */
function addPeerFragment(peers: WireguardPeerBuilder[], attributes: readonly Attribute[]): void {
  const keyBytes = attributes.find((attribute) => attribute.type === WGPEER_A_PUBLIC_KEY)?.value;
  if (!keyBytes || keyBytes.length !== 32) throw new FlannelError('EPROTO', 'wireguard dump: a peer without a 32-byte public key');
  const publicKey = WireguardKey.fromBytes(keyBytes);
  const previous = peers[peers.length - 1];
  const peer = previous?.publicKey.equals(publicKey) ? previous : newPeerBuilder(publicKey);
  if (peer !== previous) peers.push(peer);
  for (const { type, value } of attributes) {
    if (type === WGPEER_A_PRESHARED_KEY && value.length === 32 && !value.every((byte) => byte === 0)) peer.presharedKey = WireguardKey.fromBytes(value);
    else if (type === WGPEER_A_ENDPOINT) {
      const endpoint = decodeSockaddr(value);
      if (endpoint) peer.endpoint = endpoint;
    } else if (type === WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL && value.length >= 2) peer.persistentKeepaliveSeconds = value.readUInt16LE(0);
    else if (type === WGPEER_A_LAST_HANDSHAKE_TIME && value.length >= 16) {
      const epochMs = Number(value.readBigInt64LE(0)) * 1000 + Math.floor(Number(value.readBigInt64LE(8)) / 1e6);
      if (epochMs > 0) peer.lastHandshakeEpochMs = epochMs;
    } else if (type === WGPEER_A_RX_BYTES && value.length >= 8) peer.rxBytes = value.readBigUInt64LE(0);
    else if (type === WGPEER_A_TX_BYTES && value.length >= 8) peer.txBytes = value.readBigUInt64LE(0);
    else if (type === WGPEER_A_ALLOWEDIPS) {
      for (const entry of listAttributes(value)) {
        const fields = new Map(listAttributes(entry.value).map((field) => [field.type, field.value]));
        const address = fields.get(WGALLOWEDIP_A_IPADDR);
        const mask = fields.get(WGALLOWEDIP_A_CIDR_MASK);
        if (!address || (address.length !== 4 && address.length !== 16) || !mask || mask.length < 1) continue;
        peer.allowedIps.push(Cidr.of(IpAddress.fromBytes(address), mask.readUInt8(0)).masked());
      }
    }
  }
}
