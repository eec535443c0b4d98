/**
 * Kernel objects as plain data: what backends plan and what the Kernel port lists and writes.
 *
 * Routes flannel-ts owns carry route protocol FLANNEL_ROUTE_PROTOCOL (111, unused by any routing daemon in
 * iproute2's rt_protos), so `ip route show proto 111` lists exactly ours and a restart can remove stale ones
 * without touching anyone else's.
 */
import type { Cidr, IpAddress } from '../net/ip.js';
import type { MacAddress } from '../net/mac.js';

export const FLANNEL_ROUTE_PROTOCOL = 111;
export const MAIN_TABLE = 254;

export type RouteType = 'unicast' | 'blackhole';

export interface Route {
  readonly dst: Cidr;
  /** Desired routes on a device flannel-ts creates name it; the reconciler resolves it to `linkIndex`. */
  readonly linkName?: string;
  readonly gateway?: IpAddress;
  readonly linkIndex?: number;
  readonly table: number;
  readonly protocol: number;
  readonly type: RouteType;
  readonly onlink: boolean;
  readonly priority?: number;
  /** Kernel scope (253 link, 0 universe); informational when listed. */
  readonly scope?: number;
  readonly prefSrc?: IpAddress;
}

export interface Link {
  readonly index: number;
  readonly name: string;
  readonly mtu: number;
  readonly up: boolean;
  readonly mac?: MacAddress;
  /** IFLA_INFO_KIND: vxlan, tun, wireguard, ipip, veth… (absent for devices without link info, e.g. loopback). */
  readonly kind?: string;
  /** Present for VXLAN links. */
  readonly vxlan?: VxlanAttributes;
  /** Present for IPIP links. */
  readonly ipip?: IpipAttributes;
  /** Present for TUN/TAP links whose kernel reports IFLA_TUN_TYPE. */
  readonly tun?: TunAttributes;
}

export interface VxlanAttributes {
  readonly vni?: number;
  readonly port?: number;
  readonly local?: IpAddress;
  readonly underlayIndex?: number;
  readonly learning?: boolean;
  readonly gbp: boolean;
}

export interface IpipAttributes {
  readonly local?: IpAddress;
  /** Unset or 0.0.0.0: any remote. */
  readonly remote?: IpAddress;
  readonly underlayIndex?: number;
}

export interface TunAttributes {
  readonly type: 'tun' | 'tap';
}

export const NUD_PERMANENT = 0x80;

/**
 * A neighbour (ARP/NDP) entry or a bridge FDB entry on a device. flannel-ts owns the permanent ones on its
 * own devices: for a neighbour `ip` is the peer's VTEP address and `mac` its VTEP MAC; for an FDB entry `mac`
 * is the peer's VTEP MAC and `ip` the peer's public IP (the VXLAN destination).
 */
export interface Neighbour {
  readonly kind: 'neigh' | 'fdb';
  readonly linkIndex?: number;
  readonly linkName?: string;
  readonly ip?: IpAddress;
  readonly mac?: MacAddress;
  readonly state: number;
}

export function neighbourKey(entry: Neighbour): string {
  return entry.kind === 'neigh' ? `neigh|${entry.linkIndex}|${entry.ip}` : `fdb|${entry.linkIndex}|${entry.mac}`;
}

export function neighbourSatisfies(observed: Neighbour, desired: Neighbour): boolean {
  const sameIp = desired.ip ? desired.ip.equals(observed.ip) : observed.ip === undefined;
  const sameMac = desired.mac ? desired.mac.equals(observed.mac) : observed.mac === undefined;
  return sameIp && sameMac && (observed.state & NUD_PERMANENT) !== 0;
}

export function describeNeighbour(entry: Neighbour): string {
  const device = entry.linkName ?? `#${entry.linkIndex}`;
  return entry.kind === 'neigh' ? `neigh ${entry.ip} lladdr ${entry.mac} dev ${device}` : `fdb ${entry.mac} dst ${entry.ip} dev ${device}`;
}

export interface Address {
  readonly linkIndex: number;
  /** Address with its prefix length (e.g. 198.18.0.11/24). */
  readonly address: Cidr;
  readonly scope: number;
  readonly flags: number;
}

export const IFA_F_TEMPORARY = 0x01;
export const IFA_F_DEPRECATED = 0x20;
export const IFA_F_PERMANENT = 0x80;

/**
 * Identity of a route in the kernel: table, destination and metric (tos is always 0 for us). An IPv6 route
 * added without a metric gets 1024 (IP6_RT_PRIO_USER), an IPv4 one 0.
 */
export function routeKey(route: Route): string {
  return `${route.table}|${route.dst.masked().toString()}|${route.priority ?? (route.dst.family === 6 ? 1024 : 0)}`;
}

/** True when an observed route already is what we want (fields the kernel may add are not compared). */
export function routeSatisfies(observed: Route, desired: Route): boolean {
  const sameGateway = desired.gateway ? desired.gateway.equals(observed.gateway) : observed.gateway === undefined;
  return (
    sameGateway &&
    (desired.linkIndex === undefined || desired.linkIndex === observed.linkIndex) &&
    desired.type === observed.type &&
    desired.onlink === observed.onlink &&
    desired.protocol === observed.protocol
  );
}

export function describeRoute(route: Route): string {
  let text = route.type === 'blackhole' ? `blackhole ${route.dst}` : route.dst.toString();
  if (route.gateway) text += ` via ${route.gateway}`;
  if (route.linkName !== undefined) text += ` dev ${route.linkName}`;
  else if (route.linkIndex !== undefined) text += ` dev #${route.linkIndex}`;
  if (route.onlink) text += ' onlink';
  if (route.table !== MAIN_TABLE) text += ` table ${route.table}`;
  return text;
}
