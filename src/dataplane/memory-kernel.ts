/**
 * An in-memory Kernel for unit and component tests, with the kernel's rules that matter to flannel-ts (kept
 * honest by the kernel contract test):
 * - routes: a gateway must be on-link unless the route says `onlink` (ENETUNREACH, checked first), the device
 *   must exist (ENODEV), deleting a missing route fails (ESRCH), the key (table, dst, metric) is unique;
 * - neighbours/FDB: the device must exist (ENODEV), deleting a missing entry fails (ENOENT);
 * - addresses: an add replaces an existing one (NLM_F_REPLACE), deleting a missing one fails (EADDRNOTAVAIL);
 * - devices: a name is unique (EEXIST); vxlan, ipip and wireguard links can be created; deleting a device, or
 *   setting it down, removes its routes and neighbours (and, when deleted, its addresses) *without* a
 *   notification, as the kernel does for IPv4.
 *
 * Notifications: `subscribe` hears every change as a KernelEvent tagged with its origin — the port id of the
 * handle that wrote it where the real kernel tags it (routes, IPv4 addresses, link creation and deletion),
 * 0 otherwise (neighbours, link updates, IPv6 addresses, and changes made "by hand", i.e. by someone else).
 * `handle(portId)` is a second writer on the same state (another flanneld on the host). `writes` counts every
 * successful write so tests can prove that a quiet pass writes nothing.
 */
import type { IpAddress } from '../net/ip.js';
import { FlannelError } from '../support/errors.js';
import type { KernelCreatedDevice } from './devices.js';
import { type Address, type Link, type Neighbour, NUD_PERMANENT, type Route, neighbourKey, routeKey } from './kernel-objects.js';
import type { AddressOp, Kernel, KernelEvent, LinkOp, NeighbourOp, OpFailure, RouteLookup, RouteOp } from './kernel.js';

export interface TaggedKernelEvent {
  /** Port id of the writer where the kernel tags the notification with it; 0 otherwise. */
  readonly origin: number;
  readonly event: KernelEvent;
}

/** The port id of the MemoryKernel itself as a writer; `handle(n)` makes others. */
export const MEMORY_KERNEL_PORT = 1;

export class MemoryKernel implements Kernel {
  readonly links = new Map<number, Link>();
  addresses: Address[] = [];
  readonly routes = new Map<string, Route>();
  readonly neighbours = new Map<string, Neighbour>();
  writes = 0;
  private nextIndex = 100;
  private readonly listeners = new Set<(event: TaggedKernelEvent) => void>();

  /** Hears every change from now on; returns the unsubscribe function. */
  subscribe(listener: (event: TaggedKernelEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Another writer on this kernel state, whose writes are tagged `portId`. */
  handle(portId: number): Kernel {
    return new MemoryKernelHandle(this, portId);
  }

  addLink(link: Link, addresses: Array<Omit<Address, 'linkIndex'>> = []): this {
    this.links.set(link.index, link);
    this.emit(0, { kind: 'link', deleted: false, link });
    for (const address of addresses) this.addAddress({ ...address, linkIndex: link.index }, 0);
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

  applyLinkOps(ops: readonly LinkOp[], origin = MEMORY_KERNEL_PORT): Promise<OpFailure<LinkOp>[]> {
    return this.apply(ops, (op) => {
      if (op.kind === 'create') {
        if ([...this.links.values()].some((link) => link.name === op.device.name)) throw new FlannelError('EEXIST', 'File exists');
        const link = linkOf(this.nextIndex++, op.device);
        this.links.set(link.index, link);
        this.emit(origin, { kind: 'link', deleted: false, link });
      } else if (op.kind === 'delete') {
        const link = this.requireLink(op.index);
        this.removeLink(link, origin);
      } else {
        const link = this.requireLink(op.index);
        const updated = { ...link, ...(op.mtu === undefined ? {} : { mtu: op.mtu }), ...(op.mac ? { mac: op.mac } : {}), ...(op.up ? { up: true } : {}) };
        this.links.set(op.index, updated);
        this.emit(0, { kind: 'link', deleted: false, link: updated });
      }
    });
  }

  applyAddressOps(ops: readonly AddressOp[], origin = MEMORY_KERNEL_PORT): Promise<OpFailure<AddressOp>[]> {
    return this.apply(ops, (op) => {
      this.requireLink(op.linkIndex);
      // The kernel tags IPv4 address notifications with the writer's port id, IPv6 ones not.
      const tag = op.address.family === 4 ? origin : 0;
      if (op.kind === 'add') return this.addAddress({ linkIndex: op.linkIndex, address: op.address, scope: 0, flags: 0x80 }, tag);
      const index = this.addresses.findIndex((a) => a.linkIndex === op.linkIndex && a.address.equals(op.address));
      if (index < 0) throw new FlannelError('EADDRNOTAVAIL', 'Cannot assign requested address');
      const [removed] = this.addresses.splice(index, 1);
      if (removed) this.emit(tag, { kind: 'address', deleted: true, address: removed });
    });
  }

  applyNeighbourOps(ops: readonly NeighbourOp[]): Promise<OpFailure<NeighbourOp>[]> {
    return this.apply(ops, (op) => {
      this.requireLink(op.entry.linkIndex ?? -1);
      const key = neighbourKey(op.entry);
      if (op.kind === 'replace') this.neighbours.set(key, op.entry);
      else if (!this.neighbours.delete(key)) throw new FlannelError('ENOENT', 'No such file or directory');
      this.emit(0, { kind: 'neighbour', deleted: op.kind === 'delete', entry: op.entry });
    });
  }

  applyRouteOps(ops: readonly RouteOp[], origin = MEMORY_KERNEL_PORT): Promise<OpFailure<RouteOp>[]> {
    return this.apply(ops, (op) => {
      if (op.kind === 'replace') this.replaceRoute(op.route);
      else if (!this.routes.delete(routeKey(op.route))) throw new FlannelError('ESRCH', 'No such process');
      this.emit(origin, { kind: 'route', deleted: op.kind === 'delete', route: op.route });
    });
  }

  /** Someone deletes a route by hand. */
  deleteRouteByHand(route: Route): void {
    if (this.routes.delete(routeKey(route))) this.emit(0, { kind: 'route', deleted: true, route });
  }

  /** Someone adds or replaces a route by hand (e.g. a foreign route at one of our keys). */
  replaceRouteByHand(route: Route): void {
    this.routes.set(routeKey(route), route);
    this.emit(0, { kind: 'route', deleted: false, route });
  }

  /** Someone adds or replaces a neighbour or FDB entry by hand (e.g. another MAC at one of our keys). */
  replaceNeighbourByHand(entry: Neighbour): void {
    this.neighbours.set(neighbourKey(entry), entry);
    this.emit(0, { kind: 'neighbour', deleted: false, entry });
  }

  /** Someone deletes a neighbour or FDB entry by hand. */
  deleteNeighbourByHand(entry: Neighbour): void {
    if (this.neighbours.delete(neighbourKey(entry))) this.emit(0, { kind: 'neighbour', deleted: true, entry: { ...entry, state: 0x20 } });
  }

  /** Someone deletes a device by hand (its entries go with it, unannounced). */
  deleteLinkByHand(name: string): void {
    const link = [...this.links.values()].find((candidate) => candidate.name === name);
    if (link) this.removeLink(link, 0);
  }

  /** Someone sets a device down: the kernel flushes its routes and neighbours (not permanent FDB entries), unannounced. */
  setLinkDownByHand(name: string): void {
    const link = [...this.links.values()].find((candidate) => candidate.name === name);
    if (!link) return;
    const down = { ...link, up: false };
    this.links.set(link.index, down);
    for (const [key, route] of this.routes) if (route.linkIndex === link.index) this.routes.delete(key);
    for (const [key, entry] of this.neighbours) if (entry.linkIndex === link.index && !(entry.kind === 'fdb' && entry.state & NUD_PERMANENT)) this.neighbours.delete(key);
    this.emit(0, { kind: 'link', deleted: false, link: down });
  }

  private removeLink(link: Link, origin: number): void {
    this.links.delete(link.index);
    this.addresses = this.addresses.filter((address) => address.linkIndex !== link.index);
    for (const [key, route] of this.routes) if (route.linkIndex === link.index) this.routes.delete(key);
    for (const [key, entry] of this.neighbours) if (entry.linkIndex === link.index) this.neighbours.delete(key);
    this.emit(origin, { kind: 'link', deleted: true, link });
  }

  private addAddress(address: Address, origin: number): void {
    this.addresses = this.addresses.filter((a) => !(a.linkIndex === address.linkIndex && a.address.equals(address.address)));
    this.addresses.push(address);
    this.emit(origin, { kind: 'address', deleted: false, address });
  }

  private emit(origin: number, event: KernelEvent): void {
    for (const listener of this.listeners) listener({ origin, event });
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

/** The link the kernel makes for a create op (up: our create requests ask for IFF_UP). */
function linkOf(index: number, device: KernelCreatedDevice): Link {
  const base = { index, name: device.name, mtu: device.mtu, up: true };
  switch (device.kind) {
    case 'vxlan':
      return {
        ...base, mac: device.mac, kind: 'vxlan',
        vxlan: {
          vni: device.vni, port: device.port, learning: device.learning, gbp: device.gbp,
          ...(device.local ? { local: device.local } : {}), ...(device.underlayIndex === undefined ? {} : { underlayIndex: device.underlayIndex }),
        },
      };
    case 'ipip':
      return { ...base, kind: 'ipip', ipip: { ...(device.local ? { local: device.local } : {}), ...(device.underlayIndex === undefined ? {} : { underlayIndex: device.underlayIndex }) } };
    case 'wireguard':
      return { ...base, kind: 'wireguard' };
  }
}

/** A second writer on a MemoryKernel's state (its writes carry its own port id). */
class MemoryKernelHandle implements Kernel {
  constructor(
    private readonly kernel: MemoryKernel,
    readonly portId: number,
  ) {}

  listLinks = () => this.kernel.listLinks();
  listAddresses = () => this.kernel.listAddresses();
  listRoutes = () => this.kernel.listRoutes();
  listNeighbours = () => this.kernel.listNeighbours();
  routeGet = (destination: IpAddress) => this.kernel.routeGet(destination);
  applyLinkOps = (ops: readonly LinkOp[]) => this.kernel.applyLinkOps(ops, this.portId);
  applyAddressOps = (ops: readonly AddressOp[]) => this.kernel.applyAddressOps(ops, this.portId);
  applyNeighbourOps = (ops: readonly NeighbourOp[]) => this.kernel.applyNeighbourOps(ops);
  applyRouteOps = (ops: readonly RouteOp[]) => this.kernel.applyRouteOps(ops, this.portId);
}
