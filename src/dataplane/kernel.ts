/**
 * The Kernel port: the only way flannel-ts reads or writes kernel networking state. Implemented by the netlink
 * adapter (src/adapters/netlink/netlink-kernel.ts) and by MemoryKernel for tests; test/contract/kernel.contract.ts
 * runs the same suite on both.
 *
 * Writes come in batches and report per-operation failures instead of throwing, so one bad entry never stops
 * the rest (the reconciler retries failures on its next pass). Only the Reconciler calls the write methods.
 * A delete of something already gone fails with the kernel's code (ESRCH for a route, ENOENT for a neighbour,
 * EADDRNOTAVAIL for an address, ENODEV for a link); an address add replaces an existing one (NLM_F_REPLACE).
 */
import type { Cidr, IpAddress } from '../net/ip.js';
import type { MacAddress } from '../net/mac.js';
import type { KernelCreatedDevice } from './devices.js';
import type { Address, Link, Neighbour, Route } from './kernel-objects.js';

export type RouteOp = { readonly kind: 'replace'; readonly route: Route } | { readonly kind: 'delete'; readonly route: Route };

export type NeighbourOp = { readonly kind: 'replace' | 'delete'; readonly entry: Neighbour };

export type AddressOp = { readonly kind: 'add' | 'delete'; readonly linkIndex: number; readonly address: Cidr };

export type LinkOp =
  | { readonly kind: 'create'; readonly device: KernelCreatedDevice }
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

/**
 * A kernel notification, decoded: the object that changed, as the kernel reported it. `deleted` for RTM_DEL*
 * (for a deleted neighbour only its key fields are meaningful: the kernel reports its state as FAILED). The
 * notification source delivers them in the kernel's order and never reports the writes of the reconciler's
 * own socket where the kernel tags them with it (routes, addresses, link creation); everything else, ours
 * included, comes back. `overflow`: notifications were lost (ENOBUFS), so only a full re-read tells the truth.
 *
 * What the kernel does not report: IPv4 routes and neighbours it flushes when a device goes down or away. The
 * reconciler re-reads when one of its devices does.
 */
export type KernelEvent =
  | { readonly kind: 'route'; readonly deleted: boolean; readonly route: Route }
  | { readonly kind: 'neighbour'; readonly deleted: boolean; readonly entry: Neighbour }
  | { readonly kind: 'link'; readonly deleted: boolean; readonly link: Link }
  | { readonly kind: 'address'; readonly deleted: boolean; readonly address: Address }
  | { readonly kind: 'overflow' };

/** Kernel notifications while it runs; `stop()` resolves once the source has released its socket. */
export interface KernelEventSource {
  stop(): Promise<void>;
}
