/**
 * The RouteResolver port: the kernel's own route lookup (RTM_GETROUTE, `ip route get`) with the inputs a trace
 * needs — a source address and an input interface, so a lookup can simulate a packet forwarded from a pod
 * (`ip route get DST from SRC iif cni0`), where the Kernel port's `routeGet` only asks about this host's own
 * packets. The answer keeps what `routeGet` drops: the route type and the kernel's refusal, which are exactly
 * the broken hops a trace must name. The kernel answers (test/contract/route-resolver.contract.test.ts):
 * ENETUNREACH for no route, EINVAL for a blackhole destination, and EINVAL for a forwarded lookup (iif) whose
 * source its input path drops (strict reverse-path filter, martian source).
 *
 * Implemented by src/adapters/route-lookup/netlink-route-resolver.ts (its own rtnetlink socket, so the Kernel
 * port and the netlink adapter stay as they are) and by memoryRouteResolver for tests.
 */
import type { IpAddress } from '../../net/ip.js';

export interface RouteQuery {
  readonly destination: IpAddress;
  readonly source?: IpAddress;
  /** Input interface index: the lookup is for a packet arriving there (forwarding), not one this host sends. */
  readonly inputLinkIndex?: number;
}

export type RouteTypeName = 'unicast' | 'local' | 'broadcast' | 'anycast' | 'multicast' | 'blackhole' | 'unreachable' | 'prohibit' | 'throw' | 'nat' | 'other';

export type RouteAnswer =
  | {
    readonly kind: 'route';
    readonly type: RouteTypeName;
    readonly linkIndex?: number;
    readonly gateway?: IpAddress;
    readonly prefSrc?: IpAddress;
    readonly table?: number;
  }
  /** The kernel refused the lookup: `code` is the errno name (ENETUNREACH, EINVAL, EHOSTUNREACH…). */
  | { readonly kind: 'refused'; readonly code: string; readonly message: string };

export interface RouteResolver {
  resolve(query: RouteQuery): Promise<RouteAnswer>;
}
