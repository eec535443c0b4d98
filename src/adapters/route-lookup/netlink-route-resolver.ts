/**
 * RouteResolver on an rtnetlink socket of its own: RTM_GETROUTE (no NLM_F_DUMP) with RTA_DST, and RTA_SRC /
 * RTA_IIF when the query has them, as `ip route get DST from SRC iif DEV` sends it. The reply is an
 * RTM_NEWROUTE describing the route the kernel chose (its type in rtm_type, device in RTA_OIF, next hop in
 * RTA_GATEWAY); a refusal (ENETUNREACH; EINVAL for a blackhole or a source the input path drops) comes back as
 * an error ack and is answered as `refused`, never thrown. Reuses the netlink adapter's socket and codec
 * without changing them.
 */
import type { IpAddress } from '../../net/ip.js';
import { IpAddress as Ip } from '../../net/ip.js';
import { FlannelError } from '../../support/errors.js';
import { AttributeWriter, decodeAttributes } from '../netlink/codec.js';
import * as C from '../netlink/constants.js';
import { NetlinkSocket } from '../netlink/netlink-socket.js';
import type { RouteAnswer, RouteQuery, RouteResolver, RouteTypeName } from '../../ops/trace/route-resolver.js';

const RTA_SRC = 2;
const RTA_IIF = 3;
/** rtm_type values (linux/rtnetlink.h), in order from RTN_UNSPEC. */
const TYPES: readonly RouteTypeName[] = ['other', 'unicast', 'local', 'broadcast', 'anycast', 'multicast', 'blackhole', 'unreachable', 'prohibit', 'throw', 'nat'];

export class NetlinkRouteResolver implements RouteResolver {
  private constructor(private readonly socket: NetlinkSocket) {}

  static open(options: { netnsPath?: string } = {}): NetlinkRouteResolver {
    return new NetlinkRouteResolver(NetlinkSocket.open(options.netnsPath ? { netnsPath: options.netnsPath } : {}));
  }

  async resolve(query: RouteQuery): Promise<RouteAnswer> {
    const reply = this.socket.query(C.RTM_GETROUTE, encodeRouteQuery(query));
    if (reply instanceof FlannelError) return { kind: 'refused', code: reply.code, message: reply.message };
    return decodeRouteAnswer(reply.payload);
  }

  close(): void {
    this.socket.close();
  }
}

export function encodeRouteQuery(query: RouteQuery): Buffer {
  const family = query.destination.family;
  const header = Buffer.alloc(12);
  header.writeUInt8(family === 4 ? C.AF_INET : C.AF_INET6, 0);
  header.writeUInt8(query.destination.bits, 1);
  if (query.source) header.writeUInt8(query.source.bits, 2);
  const attributes = new AttributeWriter().bytes(C.RTA_DST, query.destination.toBytes());
  if (query.source) attributes.bytes(RTA_SRC, query.source.toBytes());
  if (query.inputLinkIndex !== undefined) attributes.u32(RTA_IIF, query.inputLinkIndex);
  return Buffer.concat([header, attributes.toBuffer()]);
}

export function decodeRouteAnswer(payload: Buffer): RouteAnswer {
  if (payload.length < 12) return { kind: 'refused', code: 'EBADMSG', message: 'short RTM_NEWROUTE reply' };
  const attributes = decodeAttributes(payload, 12);
  const address = (type: number): IpAddress | undefined => {
    const bytes = attributes.get(type);
    return bytes && (bytes.length === 4 || bytes.length === 16) ? Ip.fromBytes(bytes) : undefined;
  };
  const oif = attributes.get(C.RTA_OIF);
  const table = attributes.get(C.RTA_TABLE);
  const gateway = address(C.RTA_GATEWAY);
  const prefSrc = address(C.RTA_PREFSRC);
  return {
    kind: 'route',
    type: TYPES[payload.readUInt8(7)] ?? 'other',
    ...(oif && oif.length >= 4 ? { linkIndex: oif.readUInt32LE(0) } : {}),
    ...(gateway ? { gateway } : {}),
    ...(prefSrc ? { prefSrc } : {}),
    table: table && table.length >= 4 ? table.readUInt32LE(0) : payload.readUInt8(4),
  };
}
