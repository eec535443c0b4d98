/**
 * The Kernel port: the only way flannel-ts reads or writes kernel networking state. Implemented by the netlink
 * adapter (src/adapters/netlink/netlink-kernel.ts) and by MemoryKernel for tests; test/contract/kernel.contract.ts
 * runs the same suite on both.
 *
 * Writes come in batches and report per-operation failures instead of throwing, so one bad entry never stops
 * the rest (the reconciler retries failures on its next pass). Only the Reconciler calls the write methods.
 */
import type { IpAddress } from '../net/ip.js';
import type { Address, Link, Route } from './kernel-objects.js';

export type RouteOp = { readonly kind: 'replace'; readonly route: Route } | { readonly kind: 'delete'; readonly route: Route };

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
  /** `ip route get` — the route the kernel would use to reach `destination`; undefined when unreachable. */
  routeGet(destination: IpAddress): Promise<RouteLookup | undefined>;
  applyRouteOps(ops: readonly RouteOp[]): Promise<OpFailure<RouteOp>[]>;
}
