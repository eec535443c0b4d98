/**
 * diff(desired, observed) → the operations that make the kernel match, pure. Only entries we own are compared
 * (routes with FLANNEL_ROUTE_PROTOCOL); a desired route whose key is held by a foreign route replaces it.
 * Replacements and additions come before deletions, so traffic to a peer that only changed gateway never
 * sees a gap.
 */
import { FLANNEL_ROUTE_PROTOCOL, type Route, routeKey, routeSatisfies } from './kernel-objects.js';
import type { RouteOp } from './kernel.js';

export function diffRoutes(desired: readonly Route[], observed: readonly Route[]): RouteOp[] {
  const observedByKey = new Map<string, Route>();
  for (const route of observed) observedByKey.set(routeKey(route), route);
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
