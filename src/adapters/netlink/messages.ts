/**
 * rtnetlink message bodies for routes, links, addresses and neighbours/FDB entries: encoders for the requests
 * flannel-ts sends and decoders for what the kernel dumps or notifies. Pure; round-trip tested without root.
 */
import { Cidr, IpAddress, type IpFamily } from '../../net/ip.js';
import { MacAddress } from '../../net/mac.js';
import type { IpipDevice, KernelCreatedDevice, VxlanDevice } from '../../dataplane/devices.js';
import type { Address, IpipAttributes, Link, Neighbour, Route, TunAttributes, VxlanAttributes } from '../../dataplane/kernel-objects.js';
import { AttributeWriter, attributeString, decodeAttributes } from './codec.js';
import * as C from './constants.js';

const familyNumber = (family: IpFamily): number => (family === 4 ? C.AF_INET : C.AF_INET6);
const familyOfNumber = (value: number): IpFamily | undefined =>
  value === C.AF_INET ? 4 : value === C.AF_INET6 ? 6 : undefined;

// ---- routes (struct rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type, flags u32) ----

export function encodeRoute(route: Route): Buffer {
  const header = Buffer.alloc(12);
  const dst = route.dst.masked();
  header.writeUInt8(familyNumber(dst.family), 0);
  header.writeUInt8(dst.prefixLength, 1);
  header.writeUInt8(route.table < 256 ? route.table : 252 /* RT_TABLE_COMPAT */, 4);
  header.writeUInt8(route.protocol, 5);
  const scope = route.scope ?? (route.type === 'unicast' && !route.gateway ? C.RT_SCOPE_LINK : C.RT_SCOPE_UNIVERSE);
  header.writeUInt8(scope, 6);
  header.writeUInt8(route.type === 'blackhole' ? C.RTN_BLACKHOLE : C.RTN_UNICAST, 7);
  header.writeUInt32LE(route.onlink ? C.RTNH_F_ONLINK : 0, 8);
  const attributes = new AttributeWriter();
  if (dst.prefixLength > 0) attributes.bytes(C.RTA_DST, dst.ip.toBytes());
  if (route.gateway) attributes.bytes(C.RTA_GATEWAY, route.gateway.toBytes());
  if (route.linkIndex !== undefined) attributes.u32(C.RTA_OIF, route.linkIndex);
  if (route.priority !== undefined) attributes.u32(C.RTA_PRIORITY, route.priority);
  if (route.prefSrc) attributes.bytes(C.RTA_PREFSRC, route.prefSrc.toBytes());
  attributes.u32(C.RTA_TABLE, route.table);
  return Buffer.concat([header, attributes.toBuffer()]);
}

/** A request for `ip route get <destination>`. */
export function encodeRouteGet(destination: IpAddress): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt8(familyNumber(destination.family), 0);
  header.writeUInt8(destination.bits, 1);
  return Buffer.concat([header, new AttributeWriter().bytes(C.RTA_DST, destination.toBytes()).toBuffer()]);
}

/** Decodes unicast and blackhole routes; other types (local, broadcast, multicast…) return undefined. */
export function decodeRoute(payload: Buffer): Route | undefined {
  const family = familyOfNumber(payload.readUInt8(0));
  if (!family) return undefined;
  const typeNumber = payload.readUInt8(7);
  if (typeNumber !== C.RTN_UNICAST && typeNumber !== C.RTN_BLACKHOLE) return undefined;
  const attributes = decodeAttributes(payload, 12);
  const dstBytes = attributes.get(C.RTA_DST);
  const zero = IpAddress.fromBigInt(family, 0n);
  const dst = Cidr.of(dstBytes ? IpAddress.fromBytes(dstBytes) : zero, payload.readUInt8(1));
  const gatewayBytes = attributes.get(C.RTA_GATEWAY);
  const oif = attributes.get(C.RTA_OIF);
  const priority = attributes.get(C.RTA_PRIORITY);
  const prefSrc = attributes.get(C.RTA_PREFSRC);
  const table = attributes.get(C.RTA_TABLE);
  return {
    dst,
    table: table ? table.readUInt32LE(0) : payload.readUInt8(4),
    protocol: payload.readUInt8(5),
    scope: payload.readUInt8(6),
    type: typeNumber === C.RTN_BLACKHOLE ? 'blackhole' : 'unicast',
    onlink: (payload.readUInt32LE(8) & C.RTNH_F_ONLINK) !== 0,
    ...(gatewayBytes ? { gateway: IpAddress.fromBytes(gatewayBytes) } : {}),
    ...(oif ? { linkIndex: oif.readUInt32LE(0) } : {}),
    ...(priority ? { priority: priority.readUInt32LE(0) } : {}),
    ...(prefSrc ? { prefSrc: IpAddress.fromBytes(prefSrc) } : {}),
  };
}

/** The route protocol of a route message, without decoding the rest (notification filter). */
export function routeProtocolOf(payload: Buffer): number {
  return payload.length >= 6 ? payload.readUInt8(5) : -1;
}

// ---- links (struct ifinfomsg: family, pad, type u16, index s32, flags u32, change u32) ----

export function encodeLinkQuery(index = 0): Buffer {
  const header = Buffer.alloc(16);
  header.writeInt32LE(index, 4);
  return header;
}

export function decodeLink(payload: Buffer): Link {
  const attributes = decodeAttributes(payload, 16);
  const address = attributes.get(C.IFLA_ADDRESS);
  const mtu = attributes.get(C.IFLA_MTU);
  const info = attributes.get(C.IFLA_LINKINFO);
  const infoAttributes = info ? decodeAttributes(info) : undefined;
  const kind = attributeString(infoAttributes?.get(C.IFLA_INFO_KIND));
  const data = decodeAttributes(infoAttributes?.get(C.IFLA_INFO_DATA) ?? Buffer.alloc(0));
  const tun = kind === 'tun' ? decodeTunData(data) : undefined;
  return {
    index: payload.readInt32LE(4),
    name: attributeString(attributes.get(C.IFLA_IFNAME)) ?? '',
    mtu: mtu ? mtu.readUInt32LE(0) : 0,
    up: (payload.readUInt32LE(8) & C.IFF_UP) !== 0,
    ...(address && address.length === 6 ? { mac: MacAddress.fromBytes(address) } : {}),
    ...(kind ? { kind } : {}),
    ...(kind === 'vxlan' ? { vxlan: decodeVxlanData(data) } : {}),
    ...(kind === 'ipip' ? { ipip: decodeIpipData(data) } : {}),
    ...(tun ? { tun } : {}),
  };
}

/** RTM_NEWLINK body changing an existing device's MTU, MAC and/or bringing it up. */
export function encodeLinkUpdate(index: number, change: { mtu?: number; mac?: MacAddress; up?: boolean }): Buffer {
  const header = encodeLinkQuery(index);
  if (change.up) {
    header.writeUInt32LE(C.IFF_UP, 8);
    header.writeUInt32LE(C.IFF_UP, 12);
  }
  const attributes = new AttributeWriter();
  if (change.mtu !== undefined) attributes.u32(C.IFLA_MTU, change.mtu);
  if (change.mac) attributes.bytes(C.IFLA_ADDRESS, change.mac.toBytes());
  return Buffer.concat([header, attributes.toBuffer()]);
}

/**
 * RTM_NEWLINK body creating a device the reconciler creates, up: `ip link add NAME type vxlan id VNI dstport
 * PORT …`, `… type ipip local ADDR dev UNDERLAY`, `… type wireguard` (keys and peers go over genetlink, not here).
 */
export function encodeLinkCreate(device: KernelCreatedDevice): Buffer {
  const attributes = new AttributeWriter().string(C.IFLA_IFNAME, device.name).u32(C.IFLA_MTU, device.mtu);
  if (device.kind === 'vxlan') attributes.bytes(C.IFLA_ADDRESS, device.mac.toBytes());
  attributes.nested(C.IFLA_LINKINFO, (info) => {
    info.string(C.IFLA_INFO_KIND, device.kind);
    if (device.kind === 'vxlan') info.nested(C.IFLA_INFO_DATA, (data) => vxlanData(data, device));
    if (device.kind === 'ipip') info.nested(C.IFLA_INFO_DATA, (data) => ipipData(data, device));
  });
  const header = encodeLinkQuery(0);
  header.writeUInt32LE(C.IFF_UP, 8);
  header.writeUInt32LE(C.IFF_UP, 12);
  return Buffer.concat([header, attributes.toBuffer()]);
}

function vxlanData(data: AttributeWriter, spec: VxlanDevice): void {
  data.u32(C.IFLA_VXLAN_ID, spec.vni);
  if (spec.underlayIndex !== undefined) data.u32(C.IFLA_VXLAN_LINK, spec.underlayIndex);
  if (spec.local?.family === 4) data.bytes(C.IFLA_VXLAN_LOCAL, spec.local.toBytes());
  if (spec.local?.family === 6) data.bytes(C.IFLA_VXLAN_LOCAL6, spec.local.toBytes());
  data.u8(C.IFLA_VXLAN_LEARNING, spec.learning ? 1 : 0);
  data.u16be(C.IFLA_VXLAN_PORT, spec.port);
  if (spec.gbp) data.flag(C.IFLA_VXLAN_GBP);
}

/** As `ip link add … type ipip local ADDR dev UNDERLAY`: any remote, TTL inherited (0), path MTU discovery on. */
function ipipData(data: AttributeWriter, spec: IpipDevice): void {
  if (spec.underlayIndex !== undefined) data.u32(C.IFLA_IPTUN_LINK, spec.underlayIndex);
  if (spec.local) data.bytes(C.IFLA_IPTUN_LOCAL, spec.local.toBytes());
  data.bytes(C.IFLA_IPTUN_REMOTE, Buffer.alloc(4));
  data.u8(C.IFLA_IPTUN_TTL, 0);
  data.u8(C.IFLA_IPTUN_PMTUDISC, 1);
}

function decodeVxlanData(data: Map<number, Buffer>): VxlanAttributes {
  const id = data.get(C.IFLA_VXLAN_ID);
  const port = data.get(C.IFLA_VXLAN_PORT);
  const local = data.get(C.IFLA_VXLAN_LOCAL) ?? data.get(C.IFLA_VXLAN_LOCAL6);
  const link = data.get(C.IFLA_VXLAN_LINK);
  const learning = data.get(C.IFLA_VXLAN_LEARNING);
  return {
    gbp: data.has(C.IFLA_VXLAN_GBP),
    ...(id ? { vni: id.readUInt32LE(0) } : {}),
    ...(port ? { port: port.readUInt16BE(0) } : {}),
    ...(local ? { local: IpAddress.fromBytes(local) } : {}),
    ...(link ? { underlayIndex: link.readUInt32LE(0) } : {}),
    ...(learning ? { learning: learning.readUInt8(0) !== 0 } : {}),
  };
}

function decodeIpipData(data: Map<number, Buffer>): IpipAttributes {
  const local = data.get(C.IFLA_IPTUN_LOCAL);
  const remote = data.get(C.IFLA_IPTUN_REMOTE);
  const link = data.get(C.IFLA_IPTUN_LINK);
  return {
    ...(local?.length === 4 ? { local: IpAddress.fromBytes(local) } : {}),
    ...(remote?.length === 4 ? { remote: IpAddress.fromBytes(remote) } : {}),
    ...(link && link.readUInt32LE(0) !== 0 ? { underlayIndex: link.readUInt32LE(0) } : {}),
  };
}

function decodeTunData(data: Map<number, Buffer>): TunAttributes | undefined {
  const type = data.get(C.IFLA_TUN_TYPE)?.readUInt8(0);
  return type === C.IFF_TUN ? { type: 'tun' } : type === C.IFF_TAP ? { type: 'tap' } : undefined;
}

// ---- addresses (struct ifaddrmsg: family, prefixlen, flags, scope, index u32) ----

export function encodeAddress(address: Omit<Address, 'flags' | 'scope'> & { scope?: number }): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt8(familyNumber(address.address.family), 0);
  header.writeUInt8(address.address.prefixLength, 1);
  header.writeUInt8(address.scope ?? 0, 3);
  header.writeUInt32LE(address.linkIndex, 4);
  const bytes = address.address.ip.toBytes();
  return Buffer.concat([header, new AttributeWriter().bytes(C.IFA_LOCAL, bytes).bytes(C.IFA_ADDRESS, bytes).toBuffer()]);
}

export function decodeAddress(payload: Buffer): Address | undefined {
  const family = familyOfNumber(payload.readUInt8(0));
  if (!family) return undefined;
  const attributes = decodeAttributes(payload, 8);
  // IFA_LOCAL is the interface's own address on point-to-point links; IFA_ADDRESS otherwise.
  const bytes = attributes.get(C.IFA_LOCAL) ?? attributes.get(C.IFA_ADDRESS);
  if (!bytes) return undefined;
  const flags = attributes.get(C.IFA_FLAGS);
  return {
    linkIndex: payload.readUInt32LE(4),
    address: Cidr.of(IpAddress.fromBytes(bytes), payload.readUInt8(1)),
    scope: payload.readUInt8(3),
    flags: flags ? flags.readUInt32LE(0) : payload.readUInt8(2),
  };
}

// ---- neighbours and FDB entries (struct ndmsg: family, pad, pad u16, ifindex s32, state u16, flags, type) ----

export function encodeNeighbour(entry: Neighbour): Buffer {
  const header = Buffer.alloc(12);
  const family = entry.kind === 'fdb' ? C.AF_BRIDGE : familyNumber(entry.ip?.family ?? 4);
  header.writeUInt8(family, 0);
  header.writeInt32LE(entry.linkIndex ?? 0, 4);
  header.writeUInt16LE(entry.state, 8);
  header.writeUInt8(entry.kind === 'fdb' ? C.NTF_SELF : 0, 10);
  header.writeUInt8(C.RTN_UNICAST, 11);
  const attributes = new AttributeWriter();
  if (entry.ip) attributes.bytes(C.NDA_DST, entry.ip.toBytes());
  if (entry.mac) attributes.bytes(C.NDA_LLADDR, entry.mac.toBytes());
  return Buffer.concat([header, attributes.toBuffer()]);
}

export function decodeNeighbour(payload: Buffer): Neighbour | undefined {
  const family = payload.readUInt8(0);
  if (family !== C.AF_BRIDGE && !familyOfNumber(family)) return undefined;
  const attributes = decodeAttributes(payload, 12);
  const ip = attributes.get(C.NDA_DST);
  const mac = attributes.get(C.NDA_LLADDR);
  return {
    kind: family === C.AF_BRIDGE ? 'fdb' : 'neigh',
    linkIndex: payload.readInt32LE(4),
    state: payload.readUInt16LE(8),
    ...(ip && (ip.length === 4 || ip.length === 16) ? { ip: IpAddress.fromBytes(ip) } : {}),
    ...(mac && mac.length === 6 ? { mac: MacAddress.fromBytes(mac) } : {}),
  };
}

export function encodeFamilyQuery(family: number, headerLength: number): Buffer {
  const header = Buffer.alloc(headerLength);
  header.writeUInt8(family, 0);
  return header;
}
