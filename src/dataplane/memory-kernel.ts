/**
 * An in-memory Kernel for unit and component tests, with the kernel's rules that matter to flannel-ts:
 * a gateway must be on-link unless the route says `onlink`
 * (ENETUNREACH, checked first), a route's device must exist (ENODEV), deleting a missing route fails (ESRCH), and a route key is unique (replace overwrites).
 * `writes` counts route writes so tests can prove that a quiet pass writes nothing.
 */
import type { IpAddress } from '../net/ip.js';
import { FlannelError } from '../support/errors.js';
import { type Address, type Link, type Route, routeKey } from './kernel-objects.js';
import type { Kernel, OpFailure, RouteLookup, RouteOp } from './kernel.js';

export class MemoryKernel implements Kernel {
  readonly links = new Map<number, Link>();
  readonly addresses: Address[] = [];
  readonly routes = new Map<string, Route>();
  writes = 0;

  addLink(link: Link, addresses: Array<Omit<Address, 'linkIndex'>> = []): this {
    this.links.set(link.index, link);
    for (const address of addresses) this.addresses.push({ ...address, linkIndex: link.index });
    return this;
  }

  async listLinks(): Promise<Link[]> {
    return [...this.links.values()];
  }

  async listAddresses(): Promise<Address[]> {
    return [...this.addresses];
  }

  async listRoutes(): Promise<Route[]> {
    return [...this.routes.values()];
  }

  async routeGet(destination: IpAddress): Promise<RouteLookup | undefined> {
    const connected = this.addresses.find((address) => address.address.contains(destination));
    if (connected) return { linkIndex: connected.linkIndex, prefSrc: connected.address.ip };
    const candidates = [...this.routes.values()]
      .filter((route) => route.type === 'unicast' && route.dst.contains(destination))
      .sort((a, b) => b.dst.prefixLength - a.dst.prefixLength);
    const best = candidates[0];
    if (!best) return undefined;
    return { ...(best.linkIndex === undefined ? {} : { linkIndex: best.linkIndex }), ...(best.gateway ? { gateway: best.gateway } : {}) };
  }

  async applyRouteOps(ops: readonly RouteOp[]): Promise<OpFailure<RouteOp>[]> {
    const failures: OpFailure<RouteOp>[] = [];
    for (const op of ops) {
      try {
        if (op.kind === 'replace') this.replace(op.route);
        else this.remove(op.route);
        this.writes++;
      } catch (error) {
        failures.push({ op, error: error as Error });
      }
    }
    return failures;
  }

  /** Simulates someone deleting a route by hand. */
  deleteRouteByHand(route: Route): void {
    this.routes.delete(routeKey(route));
  }

  private replace(route: Route): void {
    if (route.type === 'unicast') {
      // The kernel validates a gateway before the device: a gateway route through a missing device is
      // ENETUNREACH, an onlink one ENODEV (found by the kernel contract test).
      if (route.gateway && !route.onlink) {
        const onLink = this.addresses.some(
          (address) => (route.linkIndex === undefined || address.linkIndex === route.linkIndex) && address.address.contains(route.gateway as IpAddress),
        );
        if (!onLink) throw new FlannelError('ENETUNREACH', 'Nexthop has invalid gateway');
      }
      if (route.linkIndex !== undefined && !this.links.has(route.linkIndex)) {
        throw new FlannelError('ENODEV', 'No such device');
      }
    }
    this.routes.set(routeKey(route), route);
  }

  private remove(route: Route): void {
    if (!this.routes.delete(routeKey(route))) throw new FlannelError('ESRCH', 'No such process');
  }
}
