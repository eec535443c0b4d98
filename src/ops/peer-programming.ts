/**
 * Peers desired vs programmed, for `flannelctl status`: which per-peer groups of the plan are fully in the
 * kernel, which miss something (and what), and which routes of ours the kernel holds that no peer wants. Groups
 * that are no peer's (DesiredGroup.network: a udp or wireguard network route, the blackhole route) are
 * compared the same way and reported apart. Pure,
 * O(desired + observed); the kernel lists are read fresh by the caller, so status says what the kernel has,
 * not what the reconciler believes it has.
 *
 * A group is named by its first route's destination (the peer's subnet), else its first neighbour's address.
 * Entries on devices are matched by device name (the plan names devices, the kernel numbers them).
 */
import type { DesiredGroup } from '../dataplane/desired-state.js';
import {
  FLANNEL_ROUTE_PROTOCOL, type Link, type Neighbour, type Route, describeNeighbour, describeRoute, neighbourKey, neighbourSatisfies, routeKey, routeSatisfies,
} from '../dataplane/kernel-objects.js';

export interface PeerProgramming {
  /** The peer's subnet (or VTEP address when the group has no route). */
  readonly peer: string;
  /** Objects the plan wants for this peer. */
  readonly desired: number;
  /** The wanted objects the kernel does not have as wanted, described as `ip`/`bridge` would show them. */
  readonly missing: readonly string[];
}

export interface ProgrammingReport {
  readonly peers: readonly PeerProgramming[];
  /** The groups that are no peer's, compared the same way (named like peers, by their first route). */
  readonly network: readonly PeerProgramming[];
  /** Routes with our protocol that no group wants (left over, or someone else's with our protocol). */
  readonly unexpectedRoutes: readonly string[];
}

export function comparePeerProgramming(
  groups: readonly DesiredGroup[],
  observed: { readonly links: readonly Link[]; readonly routes: readonly Route[]; readonly neighbours: readonly Neighbour[] },
): ProgrammingReport {
  const indexByName = new Map(observed.links.map((link) => [link.name, link.index]));
  const resolveRoute = (route: Route): Route => (route.linkName === undefined ? route : { ...route, linkIndex: indexByName.get(route.linkName) ?? -1 });
  const resolveNeighbour = (entry: Neighbour): Neighbour => (entry.linkName === undefined ? entry : { ...entry, linkIndex: indexByName.get(entry.linkName) ?? -1 });
  const routes = new Map(observed.routes.map((route) => [routeKey(route), route]));
  const neighbours = new Map(observed.neighbours.map((entry) => [neighbourKey(entry), entry]));
  const wantedRouteKeys = new Set<string>();
  const peers: PeerProgramming[] = [];
  const network: PeerProgramming[] = [];
  for (const group of groups) {
    const missing: string[] = [];
    for (const desired of group.neighbours) {
      const wanted = resolveNeighbour(desired);
      const current = neighbours.get(neighbourKey(wanted));
      if (!current || !neighbourSatisfies(current, wanted)) missing.push(describeNeighbour(desired));
    }
    for (const desired of group.routes) {
      const wanted = resolveRoute(desired);
      const key = routeKey(wanted);
      wantedRouteKeys.add(key);
      const current = routes.get(key);
      if (!current || !routeSatisfies(current, wanted)) missing.push(`route ${describeRoute(desired)}`);
    }
    const name = group.routes[0]?.dst.toString() ?? group.neighbours[0]?.ip?.toString() ?? '?';
    (group.network ? network : peers).push({ peer: name, desired: group.routes.length + group.neighbours.length, missing });
  }
  const unexpectedRoutes = observed.routes
    .filter((route) => route.protocol === FLANNEL_ROUTE_PROTOCOL && !wantedRouteKeys.has(routeKey(route)))
    .map((route) => `route ${describeRoute(route)}`);
  return { peers, network, unexpectedRoutes };
}
