/**
 * The Kernel port on our own rtnetlink socket. Route writes are batched (128 per write); a replace is
 * NLM_F_CREATE|NLM_F_REPLACE (like `ip route replace`), so a foreign route holding the same key is taken over.
 */
import type { Address, Link, Route } from '../../dataplane/kernel-objects.js';
import { describeRoute } from '../../dataplane/kernel-objects.js';
import type { Kernel, OpFailure, RouteLookup, RouteOp } from '../../dataplane/kernel.js';
import type { IpAddress } from '../../net/ip.js';
import { FlannelError } from '../../support/errors.js';
import * as C from './constants.js';
import {
  decodeAddress, decodeLink, decodeRoute, encodeFamilyQuery, encodeLinkQuery, encodeRoute, encodeRouteGet,
} from './messages.js';
import { NetlinkSocket } from './netlink-socket.js';

export class NetlinkKernel implements Kernel {
  private constructor(private readonly socket: NetlinkSocket) {}

  /** `netnsPath` opens the socket in that namespace (tests and the lab); default: our own namespace. */
  static open(options: { netnsPath?: string } = {}): NetlinkKernel {
    return new NetlinkKernel(NetlinkSocket.open(options.netnsPath ? { netnsPath: options.netnsPath } : {}));
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

  async applyRouteOps(ops: readonly RouteOp[]): Promise<OpFailure<RouteOp>[]> {
    const requests = ops.map((op) =>
      op.kind === 'replace'
        ? { type: C.RTM_NEWROUTE, flags: C.NLM_F_CREATE | C.NLM_F_REPLACE, body: encodeRoute(op.route) }
        : { type: C.RTM_DELROUTE, flags: 0, body: encodeRoute(op.route) },
    );
    const results = this.socket.batch(requests, (index) => {
      const op = ops[index] as RouteOp;
      return `${op.kind} route ${describeRoute(op.route)}`;
    });
    return results.flatMap((error, index) => (error ? [{ op: ops[index] as RouteOp, error }] : []));
  }

  close(): void {
    this.socket.close();
  }
}
