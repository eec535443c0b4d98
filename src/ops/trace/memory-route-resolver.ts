/**
 * A RouteResolver over kernel state held as lists (a MemoryKernel's, in tests): local addresses answer `local`,
 * connected prefixes and routes are matched longest prefix first (main table only), no match is ENETUNREACH, and a
 * blackhole route is EINVAL, as the kernel answers RTM_GETROUTE (the kernel contract test checks both).
 * It does not model policy routing or the reverse-path filter; `refuse` lets a test make a lookup fail as the
 * kernel would (EINVAL for a forwarded lookup the reverse-path filter drops).
 */
import type { Kernel } from '../../dataplane/kernel.js';
import { MAIN_TABLE } from '../../dataplane/kernel-objects.js';
import type { RouteAnswer, RouteQuery, RouteResolver } from './route-resolver.js';

export function memoryRouteResolver(kernel: Pick<Kernel, 'listAddresses' | 'listRoutes'>, refuse?: (query: RouteQuery) => RouteAnswer | undefined): RouteResolver {
  return {
    async resolve(query) {
      const refused = refuse?.(query);
      if (refused) return refused;
      const { destination } = query;
      const addresses = await kernel.listAddresses();
      const own = addresses.find((address) => address.address.ip.equals(destination));
      if (own) return { kind: 'route', type: 'local', linkIndex: own.linkIndex, prefSrc: destination, table: 255 };
      const candidates = [
        ...addresses.filter((address) => address.address.contains(destination)).map((address) => ({ prefix: address.address.prefixLength, answer: { kind: 'route', type: 'unicast', linkIndex: address.linkIndex, prefSrc: address.address.ip, table: MAIN_TABLE } as RouteAnswer })),
        ...(await kernel.listRoutes()).filter((route) => route.table === MAIN_TABLE && route.dst.contains(destination)).map((route) => ({
          prefix: route.dst.prefixLength,
          answer: {
            kind: 'route', type: route.type, table: route.table,
            ...(route.linkIndex === undefined ? {} : { linkIndex: route.linkIndex }), ...(route.gateway ? { gateway: route.gateway } : {}),
          } as RouteAnswer,
        })),
      ].sort((a, b) => b.prefix - a.prefix);
      const best = candidates[0]?.answer;
      if (best?.kind === 'route' && best.type === 'blackhole') return { kind: 'refused', code: 'EINVAL', message: 'Invalid argument' };
      return best ?? { kind: 'refused', code: 'ENETUNREACH', message: 'Network is unreachable' };
    },
  };
}
