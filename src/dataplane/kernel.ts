/**
 * The Kernel port: the only way flannel-ts reads or writes kernel networking state. Implemented by the netlink
 * adapter (src/adapters/netlink/netlink-kernel.ts) and by MemoryKernel for tests; test/contract/kernel.contract.ts
 * runs the same suite on both.
 *
 * Writes come in batches and report per-operation failures instead of throwing, so one bad entry never stops
 * the rest (the reconciler retries failures on its next pass). Only the Reconciler calls the write methods.
 */
import type { Cidr, IpAddress } from '../net/ip.js';
import type { MacAddress } from '../net/mac.js';
import type { Address, Link, Neighbour, Route, VxlanDevice } from './kernel-objects.js';

export type RouteOp = { readonly kind: 'replace'; readonly route: Route } | { readonly kind: 'delete'; readonly route: Route };

export type NeighbourOp = { readonly kind: 'replace' | 'delete'; readonly entry: Neighbour };

export type AddressOp = { readonly kind: 'add' | 'delete'; readonly linkIndex: number; readonly address: Cidr };

export type LinkOp =
  | { readonly kind: 'create'; readonly device: VxlanDevice }
  | { readonly kind: 'delete'; readonly index: number; readonly name: string }
  | { readonly kind: 'update'; readonly index: number; readonly name: string; readonly mtu?: number; readonly mac?: MacAddress; readonly up?: boolean };

export interface OpFailure<Op> {
  readonly op: Op;
  readonly error: Error;
}

export interface RouteLookup {
  readonly linkIndex?: number;
  readonly gateway?: IpAddress;
  readonly prefSrc?: IpAddress;
}

export interface Kernel {
  listLinks(): Promise<Link[]>;
  listAddresses(): Promise<Address[]>;
  /** Routes of every family and table. */
  listRoutes(): Promise<Route[]>;
  /** ARP/NDP entries and bridge FDB entries of every device. */
  listNeighbours(): Promise<Neighbour[]>;
  /** `ip route get` — the route the kernel would use to reach `destination`; undefined when unreachable. */
  routeGet(destination: IpAddress): Promise<RouteLookup | undefined>;
  applyLinkOps(ops: readonly LinkOp[]): Promise<OpFailure<LinkOp>[]>;
  applyAddressOps(ops: readonly AddressOp[]): Promise<OpFailure<AddressOp>[]>;
  applyNeighbourOps(ops: readonly NeighbourOp[]): Promise<OpFailure<NeighbourOp>[]>;
  applyRouteOps(ops: readonly RouteOp[]): Promise<OpFailure<RouteOp>[]>;
}
