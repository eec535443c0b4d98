/**
 * diff(desired, observed) → the operations that make the kernel match, pure, one function per kind of object.
 * Only what flannel-ts owns is compared: routes with FLANNEL_ROUTE_PROTOCOL, the devices it names, the
 * addresses on those devices (except IPv6 link-local ones, which the kernel manages), and the permanent
 * neighbour and FDB entries on those devices. A desired route whose key is held by a foreign route replaces it.
 */
import type { Cidr } from '../net/ip.js';
import {
  type Address, FLANNEL_ROUTE_PROTOCOL, type Link, NUD_PERMANENT, type Neighbour, type Route, type VxlanDevice,
  neighbourKey, neighbourSatisfies, routeKey, routeSatisfies,
} from './kernel-objects.js';
import type { AddressOp, LinkOp, NeighbourOp, RouteOp } from './kernel.js';

/** `observed` is keyed by routeKey (see `byRouteKey`). */
export function diffRoutes(desired: readonly Route[], observedByKey: ReadonlyMap<string, Route>): RouteOp[] {
  const wanted = new Map<string, Route>();
  for (const route of desired) wanted.set(routeKey(route), route);
  const ops: RouteOp[] = [];
  for (const [key, route] of wanted) {
    const current = observedByKey.get(key);
    if (!current || !routeSatisfies(current, route)) ops.push({ kind: 'replace', route });
  }
  for (const [key, route] of observedByKey) {
    if (route.protocol === FLANNEL_ROUTE_PROTOCOL && !wanted.has(key)) ops.push({ kind: 'delete', route });
  }
  return ops;
}

export interface DeviceDiff {
  readonly ops: LinkOp[];
  /** Devices deleted and created again, with the settings that differed (for the log). */
  readonly recreated: ReadonlyArray<{ readonly name: string; readonly differences: readonly string[] }>;
}

/**
 * Missing devices are created; a device whose identity differs (type, VNI, port, local address, underlay,
 * learning, GBP) is deleted and created again; MTU, MAC and the up flag are corrected in place.
 */
export function diffDevices(desired: readonly VxlanDevice[], observed: readonly Link[]): DeviceDiff {
  const ops: LinkOp[] = [];
  const recreated: Array<{ name: string; differences: string[] }> = [];
  for (const device of desired) {
    const link = observed.find((candidate) => candidate.name === device.name);
    if (!link) {
      ops.push({ kind: 'create', device });
      continue;
    }
    const differences = incompatibilities(device, link);
    if (differences.length > 0) {
      recreated.push({ name: device.name, differences });
      ops.push({ kind: 'delete', index: link.index, name: link.name }, { kind: 'create', device });
      continue;
    }
    const mtu = link.mtu !== device.mtu ? device.mtu : undefined;
    const mac = device.mac.equals(link.mac) ? undefined : device.mac;
    if (mtu !== undefined || mac !== undefined || !link.up) {
      ops.push({ kind: 'update', index: link.index, name: link.name, ...(mtu === undefined ? {} : { mtu }), ...(mac ? { mac } : {}), up: true });
    }
  }
  return { ops, recreated };
}

/** Settings that differ between a wanted device and an existing link (empty: the link can be kept). */
export function incompatibilities(device: VxlanDevice, link: Link): string[] {
  if (link.kind !== 'vxlan' || !link.vxlan) return [`type ${link.kind ?? 'unknown'} (want vxlan)`];
  const actual = link.vxlan;
  const differences: string[] = [];
  const compare = (name: string, want: unknown, have: unknown) => {
    if (String(want) !== String(have)) differences.push(`${name} ${String(have)} (want ${String(want)})`);
  };
  compare('vni', device.vni, actual.vni);
  compare('port', device.port, actual.port);
  compare('local', device.local?.toString(), actual.local?.toString());
  if (device.underlayIndex !== undefined) compare('underlay device', device.underlayIndex, actual.underlayIndex);
  compare('learning', device.learning, actual.learning ?? false);
  compare('gbp', device.gbp, actual.gbp);
  return differences;
}

export function diffAddresses(desired: ReadonlyArray<{ linkIndex: number; address: Cidr }>, observed: readonly Address[], ownedLinks: ReadonlySet<number>): AddressOp[] {
  const key = (linkIndex: number, address: Cidr) => `${linkIndex}|${address}`;
  const wanted = new Set(desired.map((entry) => key(entry.linkIndex, entry.address)));
  const present = new Set(observed.map((entry) => key(entry.linkIndex, entry.address)));
  const ops: AddressOp[] = [];
  for (const entry of desired) {
    if (!present.has(key(entry.linkIndex, entry.address))) ops.push({ kind: 'add', linkIndex: entry.linkIndex, address: entry.address });
  }
  for (const entry of observed) {
    if (!ownedLinks.has(entry.linkIndex) || entry.address.ip.isLinkLocal()) continue;
    if (!wanted.has(key(entry.linkIndex, entry.address))) ops.push({ kind: 'delete', linkIndex: entry.linkIndex, address: entry.address });
  }
  return ops;
}

/**
 * Neighbour and FDB entries: permanent entries on our devices are ours; learned ones are left alone.
 * `observed` is keyed by neighbourKey (see `byNeighbourKey`).
 */
export function diffNeighbours(desired: readonly Neighbour[], observed: ReadonlyMap<string, Neighbour>, ownedLinks: ReadonlySet<number>): NeighbourOp[] {
  const wanted = new Map<string, Neighbour>();
  for (const entry of desired) wanted.set(neighbourKey(entry), entry);
  const ops: NeighbourOp[] = [];
  for (const [key, entry] of wanted) {
    const current = observed.get(key);
    if (!current || !neighbourSatisfies(current, entry)) ops.push({ kind: 'replace', entry });
  }
  for (const [key, entry] of observed) {
    const ours = entry.linkIndex !== undefined && ownedLinks.has(entry.linkIndex) && (entry.state & NUD_PERMANENT) !== 0;
    if (ours && !wanted.has(key)) ops.push({ kind: 'delete', entry });
  }
  return ops;
}

export function byRouteKey(routes: readonly Route[]): Map<string, Route> {
  return new Map(routes.map((route) => [routeKey(route), route]));
}

export function byNeighbourKey(entries: readonly Neighbour[]): Map<string, Neighbour> {
  return new Map(entries.map((entry) => [neighbourKey(entry), entry]));
}

/** The ops for only these route keys (an incremental pass): `want` is the desired route of a key, if any. */
export function diffRouteKeys(keys: Iterable<string>, want: (key: string) => Route | undefined, observed: ReadonlyMap<string, Route>): RouteOp[] {
  const ops: RouteOp[] = [];
  for (const key of keys) {
    const desired = want(key);
    const current = observed.get(key);
    if (desired && (!current || !routeSatisfies(current, desired))) ops.push({ kind: 'replace', route: desired });
    else if (!desired && current && current.protocol === FLANNEL_ROUTE_PROTOCOL) ops.push({ kind: 'delete', route: current });
  }
  return ops;
}

/** The ops for only these neighbour/FDB keys (an incremental pass). */
export function diffNeighbourKeys(
  keys: Iterable<string>,
  want: (key: string) => Neighbour | undefined,
  observed: ReadonlyMap<string, Neighbour>,
  ownedLinks: ReadonlySet<number>,
): NeighbourOp[] {
  const ops: NeighbourOp[] = [];
  for (const key of keys) {
    const desired = want(key);
    const current = observed.get(key);
    if (desired && (!current || !neighbourSatisfies(current, desired))) ops.push({ kind: 'replace', entry: desired });
    else if (!desired && current && current.linkIndex !== undefined && ownedLinks.has(current.linkIndex) && (current.state & NUD_PERMANENT) !== 0) {
      ops.push({ kind: 'delete', entry: current });
    }
  }
  return ops;
}
