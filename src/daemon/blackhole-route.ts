/**
 * `--ip-blackhole-route`: a blackhole route for our own subnet(s), so that traffic to pod addresses of this host
 * that do not exist is dropped here instead of following the default route back out. Pure; planned as one more
 * desired group and applied by the reconciler like every other route.
 *
 * It carries a high metric: the bridge's own route for the same prefix (`10.244.1.0/24 dev cni0`, metric 0)
 * wins while it exists, and the blackhole takes over when it does not (an equal metric would collide with it).
 */
import type { DesiredGroup } from '../dataplane/desired-state.js';
import { FLANNEL_ROUTE_PROTOCOL, MAIN_TABLE, type Route } from '../dataplane/kernel-objects.js';
import { type Lease, hasIpv4 } from '../lease/lease.js';
import type { Cidr } from '../net/ip.js';

export const BLACKHOLE_METRIC = 65535;

export function blackholeGroup(lease: Lease): DesiredGroup {
  const route = (dst: Cidr): Route => ({
    dst, table: MAIN_TABLE, protocol: FLANNEL_ROUTE_PROTOCOL, type: 'blackhole', onlink: false, priority: BLACKHOLE_METRIC,
  });
  const routes = [...(hasIpv4(lease) ? [route(lease.subnet)] : []), ...(lease.ipv6Subnet ? [route(lease.ipv6Subnet)] : [])];
  return { network: true, routes, neighbours: [] };
}
