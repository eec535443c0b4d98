/**
 * An in-memory Kernel for unit and component tests, with the kernel's rules that matter to flannel-ts (kept
 * honest by the kernel contract test):
 * - routes: a gateway must be on-link unless the route says `onlink` (ENETUNREACH, checked first), the device
 *   must exist (ENODEV), deleting a missing route fails (ESRCH), the key (table, dst, metric) is unique;
 *   deleting a device removes its routes, addresses and neighbours, as the kernel does;
 * - neighbours/FDB: the device must exist (ENODEV), deleting a missing entry fails (ENOENT);
 * - devices: a name is unique (EEXIST).
 * `writes` counts every write so tests can prove that a quiet pass writes nothing.
 */
import type { IpAddress } from '../net/ip.js';
import { FlannelError } from '../support/errors.js';
import { type Address, type Link, type Neighbour, type Route, neighbourKey, routeKey } from './kernel-objects.js';
import type { AddressOp, Kernel, LinkOp, NeighbourOp, OpFailure, RouteLookup, RouteOp } from './kernel.js';

export class MemoryKernel implements Kernel {
  readonly links = new Map<number, Link>();
  addresses: Address[] = [];
  readonly routes = new Map<string, Route>();
  readonly neighbours = new Map<string, Neighbour>();
  writes = 0;
  private nextIndex = 100;

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

  async listNeighbours(): Promise<Neighbour[]> {
    return [...this.neighbours.values()];
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

  applyLinkOps(ops: readonly LinkOp[]): Promise<OpFailure<LinkOp>[]> {
    return this.apply(ops, (op) => {
      if (op.kind === 'create') {
        if ([...this.links.values()].some((link) => link.name === op.device.name)) throw new FlannelError('EEXIST', 'File exists');
        const { device } = op;
        const index = this.nextIndex++;
        this.links.set(index, {
          index, name: device.name, mtu: device.mtu, up: true, mac: device.mac, kind: 'vxlan',
          vxlan: {
            vni: device.vni, port: device.port, learning: device.learning, gbp: device.gbp,
            ...(device.local ? { local: device.local } : {}), ...(device.underlayIndex === undefined ? {} : { underlayIndex: device.underlayIndex }),
          },
        });
      } else if (op.kind === 'delete') {
        if (!this.links.delete(op.index)) throw new FlannelError('ENODEV', 'No such device');
        this.forgetDevice(op.index);
      } else {
        const link = this.requireLink(op.index);
        this.links.set(op.index, { ...link, ...(op.mtu === undefined ? {} : { mtu: op.mtu }), ...(op.mac ? { mac: op.mac } : {}), ...(op.up ? { up: true } : {}) });
      }
    });
  }

  applyAddressOps(ops: readonly AddressOp[]): Promise<OpFailure<AddressOp>[]> {
    return this.apply(ops, (op) => {
      this.requireLink(op.linkIndex);
      const index = this.addresses.findIndex((a) => a.linkIndex === op.linkIndex && a.address.equals(op.address));
      if (op.kind === 'add') {
        if (index >= 0) throw new FlannelError('EEXIST', 'File exists');
        this.addresses.push({ linkIndex: op.linkIndex, address: op.address, scope: 0, flags: 0x80 });
      } else {
        if (index < 0) throw new FlannelError('EADDRNOTAVAIL', 'Cannot assign requested address');
        this.addresses.splice(index, 1);
      }
    });
  }

  applyNeighbourOps(ops: readonly NeighbourOp[]): Promise<OpFailure<NeighbourOp>[]> {
    return this.apply(ops, (op) => {
      this.requireLink(op.entry.linkIndex ?? -1);
      const key = neighbourKey(op.entry);
      if (op.kind === 'replace') this.neighbours.set(key, op.entry);
      else if (!this.neighbours.delete(key)) throw new FlannelError('ENOENT', 'No such file or directory');
    });
  }

  applyRouteOps(ops: readonly RouteOp[]): Promise<OpFailure<RouteOp>[]> {
    return this.apply(ops, (op) => {
      if (op.kind === 'replace') this.replaceRoute(op.route);
      else if (!this.routes.delete(routeKey(op.route))) throw new FlannelError('ESRCH', 'No such process');
    });
  }

  /** Simulates someone deleting a route by hand. */
  deleteRouteByHand(route: Route): void {
    this.routes.delete(routeKey(route));
  }

  /** Simulates someone deleting a device by hand (its entries go with it). */
  deleteLinkByHand(name: string): void {
    const link = [...this.links.values()].find((candidate) => candidate.name === name);
    if (!link) return;
    this.links.delete(link.index);
    this.forgetDevice(link.index);
  }

  private async apply<Op>(ops: readonly Op[], perform: (op: Op) => void): Promise<OpFailure<Op>[]> {
    const failures: OpFailure<Op>[] = [];
    for (const op of ops) {
      try {
        perform(op);
        this.writes++;
      } catch (error) {
        failures.push({ op, error: error as Error });
      }
    }
    return failures;
  }

  private requireLink(index: number): Link {
    const link = this.links.get(index);
    if (!link) throw new FlannelError('ENODEV', 'No such device');
    return link;
  }

  private forgetDevice(index: number): void {
    this.addresses = this.addresses.filter((address) => address.linkIndex !== index);
    for (const [key, route] of this.routes) if (route.linkIndex === index) this.routes.delete(key);
    for (const [key, entry] of this.neighbours) if (entry.linkIndex === index) this.neighbours.delete(key);
  }

  private replaceRoute(route: Route): void {
    if (route.type === 'unicast') {
      // The kernel validates a gateway before the device: a gateway route through a missing device is
      // ENETUNREACH, an onlink one ENODEV (found by the kernel contract test).
      if (route.gateway && !route.onlink) {
        const gateway = route.gateway;
        const onLink = this.addresses.some(
          (address) => (route.linkIndex === undefined || address.linkIndex === route.linkIndex) && address.address.contains(gateway),
        );
        if (!onLink) throw new FlannelError('ENETUNREACH', 'Nexthop has invalid gateway');
      }
      if (route.linkIndex !== undefined && !this.links.has(route.linkIndex)) throw new FlannelError('ENODEV', 'No such device');
    }
    this.routes.set(routeKey(route), route);
  }
}
