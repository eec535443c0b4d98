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
  readonly kind?: string;
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

/** Identity of a route in the kernel: table, destination and metric (tos is always 0 for us). */
export function routeKey(route: Route): string {
  return `${route.table}|${route.dst.masked().toString()}|${route.priority ?? 0}`;
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
  if (route.linkIndex !== undefined) text += ` dev #${route.linkIndex}`;
  if (route.onlink) text += ' onlink';
  if (route.table !== MAIN_TABLE) text += ` table ${route.table}`;
  return text;
}
