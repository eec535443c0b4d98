/**
 * Taking over a host from upstream flanneld: the routes it left on the devices flannel owns are adopted, i.e.
 * re-marked as ours (protocol 111), once, at start-up, before the reconciler runs. The reconciler then keeps
 * those the leases still want (unchanged, so traffic never stops) and removes the rest like any stale route of
 * ours — a peer that left while no flanneld ran no longer keeps a dead route.
 *
 * Provably upstream's: upstream programs its per-peer routes through vishvananda/netlink without a protocol,
 * which the kernel records as `proto boot` (3), in the main table, on flannel.<VNI> / flannel-v6.<VNI> (VXLAN
 * devices only flannel makes). The kernel's own routes on them (`proto kernel`: link-local, an address's
 * prefix) and anything in another table are not touched; neither are upstream's host-gw routes, which sit on
 * the uplink among everyone else's (the reconciler replaces those the leases want, by destination).
 *
 * Neighbour and FDB entries need nothing here: permanent entries on flannel's devices are already the
 * reconciler's (stale ones are removed, wanted ones kept).
 */
import { FLANNEL_ROUTE_PROTOCOL, type Link, MAIN_TABLE, type Route } from '../dataplane/kernel-objects.js';
import type { Kernel } from '../dataplane/kernel.js';

/** The protocol the kernel records for a route added without one (netlink's default, and `ip route add`'s). */
export const RTPROT_BOOT = 3;
const FLANNEL_DEVICE = /^flannel(-v6)?\.\d+$/;

/** Routes upstream flanneld left on flannel's VXLAN devices (see above). Pure. */
export function upstreamRoutes(links: readonly Link[], routes: readonly Route[]): Route[] {
  const devices = new Set(links.filter((link) => link.kind === 'vxlan' && FLANNEL_DEVICE.test(link.name)).map((link) => link.index));
  return routes.filter((route) => route.protocol === RTPROT_BOOT && route.table === MAIN_TABLE && route.type === 'unicast'
    && route.linkIndex !== undefined && devices.has(route.linkIndex));
}

/** Re-marks upstream's routes as ours (a replace: same route, same key, no gap); returns them and what failed. */
export async function adoptUpstreamRoutes(kernel: Pick<Kernel, 'listLinks' | 'listRoutes' | 'applyRouteOps'>): Promise<{ adopted: Route[]; failures: string[] }> {
  const found = upstreamRoutes(await kernel.listLinks(), await kernel.listRoutes());
  if (found.length === 0) return { adopted: [], failures: [] };
  const failures = await kernel.applyRouteOps(found.map((route) => ({ kind: 'replace' as const, route: { ...route, protocol: FLANNEL_ROUTE_PROTOCOL } })));
  const failed = new Set(failures.map((failure) => failure.op.route.dst.toString()));
  return { adopted: found.filter((route) => !failed.has(route.dst.toString())), failures: failures.map((failure) => failure.error.message) };
}
