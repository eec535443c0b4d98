/**
 * The Kernel port on our own rtnetlink socket. Route writes are batched (128 per write); a replace is
 * NLM_F_CREATE|NLM_F_REPLACE (like `ip route replace`), so a foreign route holding the same key is taken over.
 * `portId` is the socket's netlink port id: the kernel tags the notifications of our own route, IPv4 address
 * and link creation/deletion writes with it, so the kernel watcher can leave them out.
 */
import { writeFileSync } from 'node:fs';
import type { Address, Link, Neighbour, Route } from '../../dataplane/kernel-objects.js';
import { describeNeighbour, describeRoute } from '../../dataplane/kernel-objects.js';
import type { AddressOp, Kernel, LinkOp, NeighbourOp, OpFailure, RouteLookup, RouteOp } from '../../dataplane/kernel.js';
import type { IpAddress } from '../../net/ip.js';
import { FlannelError } from '../../support/errors.js';
import * as C from './constants.js';
import {
  decodeAddress, decodeLink, decodeNeighbour, decodeRoute, encodeAddress, encodeFamilyQuery, encodeLinkQuery,
  encodeLinkCreate, encodeLinkUpdate, encodeNeighbour, encodeRoute, encodeRouteGet,
} from './messages.js';
import { type NetlinkRequest, NetlinkSocket } from './netlink-socket.js';

export class NetlinkKernel implements Kernel {
  private constructor(
    private readonly socket: NetlinkSocket,
    private readonly netnsPath: string | undefined,
  ) {}

  /** `netnsPath` opens the socket in that namespace (tests and the lab); default: our own namespace. */
  static open(options: { netnsPath?: string } = {}): NetlinkKernel {
    return new NetlinkKernel(NetlinkSocket.open(options.netnsPath ? { netnsPath: options.netnsPath } : {}), options.netnsPath);
  }

  get portId(): number {
    return this.socket.portId;
  }

  async listLinks(): Promise<Link[]> {
    return this.socket.dump(C.RTM_GETLINK, encodeLinkQuery()).filter((m) => m.type === C.RTM_NEWLINK).map((m) => decodeLink(m.payload));
  }

  async listAddresses(): Promise<Address[]> {
    const messages = this.socket.dump(C.RTM_GETADDR, encodeFamilyQuery(C.AF_UNSPEC, 8));
    return messages.flatMap((m) => {
      const address = m.type === C.RTM_NEWADDR ? decodeAddress(m.payload) : undefined;
      return address ? [address] : [];
    });
  }

  async listRoutes(): Promise<Route[]> {
    const messages = this.socket.dump(C.RTM_GETROUTE, encodeFamilyQuery(C.AF_UNSPEC, 12));
    return messages.flatMap((m) => {
      const route = m.type === C.RTM_NEWROUTE ? decodeRoute(m.payload) : undefined;
      return route ? [route] : [];
    });
  }

  async listNeighbours(): Promise<Neighbour[]> {
    // IPv4/IPv6 neighbours and bridge FDB entries are separate tables; dump each family once.
    const entries: Neighbour[] = [];
    for (const family of [C.AF_INET, C.AF_INET6, C.AF_BRIDGE]) {
      for (const message of this.socket.dump(C.RTM_GETNEIGH, encodeFamilyQuery(family, 12))) {
        const entry = message.type === C.RTM_NEWNEIGH ? decodeNeighbour(message.payload) : undefined;
        if (entry) entries.push(entry);
      }
    }
    return entries;
  }

  async routeGet(destination: IpAddress): Promise<RouteLookup | undefined> {
    const reply = this.socket.query(C.RTM_GETROUTE, encodeRouteGet(destination));
    if (reply instanceof FlannelError) {
      if (reply.code === 'ENETUNREACH' || reply.code === 'EHOSTUNREACH') return undefined;
      throw reply;
    }
    const route = decodeRoute(reply.payload);
    if (!route) return undefined;
    return {
      ...(route.linkIndex === undefined ? {} : { linkIndex: route.linkIndex }),
      ...(route.gateway ? { gateway: route.gateway } : {}),
      ...(route.prefSrc ? { prefSrc: route.prefSrc } : {}),
    };
  }

  async applyLinkOps(ops: readonly LinkOp[]): Promise<OpFailure<LinkOp>[]> {
    // One at a time: a create may follow the delete of the same name.
    const failures: OpFailure<LinkOp>[] = [];
    for (const op of ops) {
      const request: NetlinkRequest =
        op.kind === 'create' ? { type: C.RTM_NEWLINK, flags: C.NLM_F_CREATE | C.NLM_F_EXCL, body: encodeLinkCreate(op.device) }
        : op.kind === 'delete' ? { type: C.RTM_DELLINK, flags: 0, body: encodeLinkQuery(op.index) }
        : { type: C.RTM_NEWLINK, flags: 0, body: encodeLinkUpdate(op.index, op) };
      const name = op.kind === 'create' ? op.device.name : op.name;
      const [error] = this.socket.batch([request], () => `${op.kind} link ${name}`);
      if (error) failures.push({ op, error });
      else if (op.kind === 'create') this.disableRouterAdvertisements(name);
    }
    return failures;
  }

  async applyAddressOps(ops: readonly AddressOp[]): Promise<OpFailure<AddressOp>[]> {
    return this.batch(ops, (op) => ({
      type: op.kind === 'add' ? C.RTM_NEWADDR : C.RTM_DELADDR,
      flags: op.kind === 'add' ? C.NLM_F_CREATE | C.NLM_F_REPLACE : 0,
      body: encodeAddress({ linkIndex: op.linkIndex, address: op.address }),
    }), (op) => `${op.kind} address ${op.address} on #${op.linkIndex}`);
  }

  async applyNeighbourOps(ops: readonly NeighbourOp[]): Promise<OpFailure<NeighbourOp>[]> {
    return this.batch(ops, (op) => ({
      type: op.kind === 'replace' ? C.RTM_NEWNEIGH : C.RTM_DELNEIGH,
      flags: op.kind === 'replace' ? C.NLM_F_CREATE | C.NLM_F_REPLACE : 0,
      body: encodeNeighbour(op.entry),
    }), (op) => `${op.kind} ${describeNeighbour(op.entry)}`);
  }

  async applyRouteOps(ops: readonly RouteOp[]): Promise<OpFailure<RouteOp>[]> {
    return this.batch(ops, (op) => (op.kind === 'replace'
      ? { type: C.RTM_NEWROUTE, flags: C.NLM_F_CREATE | C.NLM_F_REPLACE, body: encodeRoute(op.route) }
      : { type: C.RTM_DELROUTE, flags: 0, body: encodeRoute(op.route) }), (op) => `${op.kind} route ${describeRoute(op.route)}`);
  }

  close(): void {
    this.socket.close();
  }

  private batch<Op>(ops: readonly Op[], encode: (op: Op) => NetlinkRequest, describe: (op: Op) => string): OpFailure<Op>[] {
    const results = this.socket.batch(ops.map(encode), (index) => describe(ops[index] as Op));
    return results.flatMap((error, index) => (error ? [{ op: ops[index] as Op, error }] : []));
  }

  /**
   * accept_ra = 0 on our devices, as upstream (CVE-2020-10749: rogue router advertisements). Best effort: the
   * device works without it, and a namespace opened through setns has no /proc/sys view of its own here.
   */
  private disableRouterAdvertisements(name: string): void {
    if (this.netnsPath) return;
    try {
      writeFileSync(`/proc/sys/net/ipv6/conf/${name}/accept_ra`, '0');
    } catch {
      // IPv6 disabled on this host: nothing to protect.
    }
  }
}
