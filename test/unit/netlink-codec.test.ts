import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AttributeWriter, decodeAck, decodeAttributes, decodeMessages, encodeMessage, kernelError } from '../../src/adapters/netlink/codec.js';
import * as C from '../../src/adapters/netlink/constants.js';
import {
  decodeAddress, decodeLink, decodeNeighbour, decodeRoute, encodeAddress, encodeLinkCreate, encodeLinkQuery, encodeNeighbour, encodeRoute,
} from '../../src/adapters/netlink/messages.js';
import { decodeKernelEvents } from '../../src/adapters/netlink/notifications.js';
import type { Route } from '../../src/dataplane/kernel-objects.js';
import { Cidr, IpAddress } from '../../src/net/ip.js';
import { MacAddress } from '../../src/net/mac.js';

describe('netlink framing', () => {
  it('pads each message to 4 bytes and decodes a concatenation', () => {
    const one = encodeMessage(C.RTM_NEWNEIGH, C.NLM_F_REQUEST, 7, Buffer.alloc(30, 1));
    assert.equal(one.length % 4, 0);
    const messages = decodeMessages(Buffer.concat([one, encodeMessage(C.RTM_DELNEIGH, 0, 8, Buffer.alloc(3))]));
    assert.deepEqual(messages.map((m) => [m.type, m.seq, m.payload.length]), [[C.RTM_NEWNEIGH, 7, 30], [C.RTM_DELNEIGH, 8, 3]]);
  });
  it('decodes an error ACK with its extended message', () => {
    const echoed = Buffer.alloc(16);
    echoed.writeUInt32LE(16, 0);
    echoed.writeUInt32LE(42, 8);
    const errno = Buffer.alloc(4);
    errno.writeInt32LE(-101);
    const tlv = new AttributeWriter().string(C.NLMSGERR_ATTR_MSG, 'Nexthop has invalid gateway').toBuffer();
    const [message] = decodeMessages(encodeMessage(C.NLMSG_ERROR, C.NLM_F_ACK_TLVS | C.NLM_F_CAPPED, 42, Buffer.concat([errno, echoed, tlv])));
    const ack = decodeAck(message!);
    assert.deepEqual(ack, { errno: 101, seq: 42, extendedMessage: 'Nexthop has invalid gateway' });
    const error = kernelError('add route', ack);
    assert.equal(error.code, 'ENETUNREACH');
    assert.match(error.message, /add route: .*Nexthop has invalid gateway/);
  });
});

describe('rtnetlink messages round-trip', () => {
  const routes: Route[] = [
    { dst: Cidr.parse('10.244.2.0/24'), gateway: IpAddress.parse('198.18.0.12'), linkIndex: 3, table: 254, protocol: 111, type: 'unicast', onlink: false },
    { dst: Cidr.parse('10.244.2.0/24'), gateway: IpAddress.parse('10.244.2.0'), linkIndex: 9, table: 254, protocol: 111, type: 'unicast', onlink: true, priority: 5 },
    { dst: Cidr.parse('fd00:10:244:2::/64'), gateway: IpAddress.parse('fd00::12'), linkIndex: 3, table: 1000, protocol: 111, type: 'unicast', onlink: false },
    { dst: Cidr.parse('10.244.1.0/24'), table: 254, protocol: 111, type: 'blackhole', onlink: false },
  ];
  for (const route of routes) {
    it(`route ${route.type} ${route.dst}`, () => {
      const decoded = decodeRoute(encodeRoute(route));
      assert.ok(decoded);
      assert.deepEqual({ ...decoded, scope: undefined }, { ...route, scope: undefined });
    });
  }
  it('address', () => {
    const address = decodeAddress(encodeAddress({ linkIndex: 4, address: Cidr.parse('198.18.0.11/24') }));
    assert.equal(address?.address.toString(), '198.18.0.11/24');
    assert.equal(address?.linkIndex, 4);
  });
  it('neighbour and FDB entry', () => {
    const mac = MacAddress.parse('52:2f:17:7c:bc:0f');
    const neigh = decodeNeighbour(encodeNeighbour({ kind: 'neigh', linkIndex: 5, ip: IpAddress.parse('10.244.2.0'), mac, state: C.NUD_PERMANENT }));
    assert.deepEqual([neigh?.kind, neigh?.ip?.toString(), neigh?.mac?.toString(), neigh?.state], ['neigh', '10.244.2.0', mac.toString(), C.NUD_PERMANENT]);
    const fdb = decodeNeighbour(encodeNeighbour({ kind: 'fdb', linkIndex: 5, ip: IpAddress.parse('198.18.0.12'), mac, state: C.NUD_PERMANENT }));
    assert.deepEqual([fdb?.kind, fdb?.ip?.toString()], ['fdb', '198.18.0.12']);
  });
  it('vxlan link', () => {
    const body = encodeLinkCreate({
      kind: 'vxlan', name: 'flannel.1', vni: 1, port: 8472, local: IpAddress.parse('198.18.0.11'), underlayIndex: 2, learning: false, gbp: true, mtu: 1450,
      mac: MacAddress.parse('02:aa:bb:cc:dd:ee'),
    });
    const link = decodeLink(body);
    assert.deepEqual([link.name, link.mtu, link.mac?.toString(), link.kind, link.up], ['flannel.1', 1450, '02:aa:bb:cc:dd:ee', 'vxlan', true]);
    assert.deepEqual(link.vxlan, { gbp: true, vni: 1, port: 8472, local: IpAddress.parse('198.18.0.11'), underlayIndex: 2, learning: false });
  });
  it('nested attributes decode with the nested flag masked', () => {
    const buffer = new AttributeWriter().nested(18, (inner) => inner.string(1, 'veth')).toBuffer();
    assert.ok(decodeAttributes(buffer).has(18));
  });
});

/** Hex with spaces and comments stripped (`# …` to the end of a line). */
const hex = (text: string) => Buffer.from(text.replace(/#.*$/gm, '').replace(/\s+/g, ''), 'hex');

describe('link create requests, byte for byte (uapi if_link.h, if_tunnel.h)', () => {
  it('ipip: name, MTU, kind ipip, link, local, any remote, TTL inherit, pmtudisc on; up', () => {
    const body = encodeLinkCreate({ kind: 'ipip', name: 'flannel.ipip', mtu: 1480, local: IpAddress.parse('198.18.0.11'), underlayIndex: 2 });
    assert.equal(body.toString('hex'), hex(`
      00 00 0000 00000000 01000000 01000000            # ifinfomsg: index 0, flags IFF_UP, change IFF_UP
      1100 0300 666c616e6e656c2e6970697000 000000       # IFLA_IFNAME "flannel.ipip"
      0800 0400 c8050000                                # IFLA_MTU 1480
      3c00 1280                                         # IFLA_LINKINFO (nested), 60 bytes
        0900 0100 6970697000 000000                     #   IFLA_INFO_KIND "ipip"
        2c00 0280                                       #   IFLA_INFO_DATA (nested), 44 bytes
          0800 0100 02000000                            #     IFLA_IPTUN_LINK 2
          0800 0200 c612000b                            #     IFLA_IPTUN_LOCAL 198.18.0.11
          0800 0300 00000000                            #     IFLA_IPTUN_REMOTE any
          0500 0400 00 000000                           #     IFLA_IPTUN_TTL 0 (inherit)
          0500 0a00 01 000000                           #     IFLA_IPTUN_PMTUDISC 1
    `).toString('hex'));
    const link = decodeLink(body);
    assert.deepEqual([link.kind, link.ipip?.local?.toString(), link.ipip?.remote?.toString(), link.ipip?.underlayIndex], ['ipip', '198.18.0.11', '0.0.0.0', 2]);
  });
  it('wireguard: name, MTU, kind wireguard and nothing else (keys and peers go over genetlink); up', () => {
    const body = encodeLinkCreate({ kind: 'wireguard', implementation: 'kernel', name: 'flannel-wg', mtu: 1420 });
    assert.equal(body.toString('hex'), hex(`
      00 00 0000 00000000 01000000 01000000            # ifinfomsg, up
      0f00 0300 666c616e6e656c2d776700 00               # IFLA_IFNAME "flannel-wg"
      0800 0400 8c050000                                # IFLA_MTU 1420
      1400 1280                                         # IFLA_LINKINFO (nested), 20 bytes
        0e00 0100 77697265677561726400 0000             #   IFLA_INFO_KIND "wireguard"
    `).toString('hex'));
    assert.equal(decodeLink(body).kind, 'wireguard');
  });
  it('a TUN link as the kernel reports it: kind tun, IFLA_TUN_TYPE 1 (IFF_TUN), 2 (IFF_TAP)', () => {
    const reported = (type: number) => Buffer.concat([encodeLinkQuery(7), new AttributeWriter().string(C.IFLA_IFNAME, 'flannel0').u32(C.IFLA_MTU, 1472)
      .nested(C.IFLA_LINKINFO, (info) => info.string(C.IFLA_INFO_KIND, 'tun').nested(C.IFLA_INFO_DATA, (data) => data.u8(C.IFLA_TUN_TYPE, type).u8(4, 0)))
      .toBuffer()]);
    assert.deepEqual(decodeLink(reported(1)), { index: 7, name: 'flannel0', mtu: 1472, up: false, kind: 'tun', tun: { type: 'tun' } });
    assert.deepEqual(decodeLink(reported(2)).tun, { type: 'tap' });
  });
});

describe('notifications decode into the objects that changed', () => {
  const frame = (type: number, body: Buffer) => encodeMessage(type, 0, 0, body);
  const route: Route = { dst: Cidr.parse('10.244.2.0/24'), gateway: IpAddress.parse('10.244.2.0'), linkIndex: 9, table: 254, protocol: 111, type: 'unicast', onlink: true };
  it('routes, neighbours/FDB, links and addresses, in order; local routes are not events', () => {
    const local = encodeRoute(route);
    local.writeUInt8(2 /* RTN_LOCAL */, 7);
    const events = decodeKernelEvents(decodeMessages(Buffer.concat([
      frame(C.RTM_DELROUTE, encodeRoute(route)),
      frame(C.RTM_NEWROUTE, local),
      frame(C.RTM_NEWNEIGH, encodeNeighbour({ kind: 'fdb', linkIndex: 9, ip: IpAddress.parse('198.18.0.12'), mac: MacAddress.parse('02:00:00:00:00:12'), state: C.NUD_PERMANENT })),
      frame(C.RTM_DELLINK, encodeLinkCreate({ kind: 'wireguard', implementation: 'kernel', name: 'flannel-wg', mtu: 1420 })),
      frame(C.RTM_NEWADDR, encodeAddress({ linkIndex: 9, address: Cidr.parse('10.244.1.0/32') })),
    ])));
    assert.deepEqual(events.map((event) => event.kind === 'overflow' ? 'overflow' : `${event.kind} ${event.deleted ? 'deleted' : 'new'}`),
      ['route deleted', 'neighbour new', 'link deleted', 'address new']);
    const [deleted] = events;
    assert.ok(deleted?.kind === 'route');
    assert.deepEqual({ ...deleted.route, scope: undefined }, { ...route, scope: undefined });
  });
  it('a message that does not decode becomes an overflow (re-read everything)', () => {
    assert.deepEqual(decodeKernelEvents(decodeMessages(frame(C.RTM_NEWROUTE, Buffer.from([C.AF_INET, 24, 0])))), [{ kind: 'overflow' }]);
  });
  it('echoes of our own writes (from our netlink port) and other message types are skipped', () => {
    const from = (pid: number) => {
      const message = frame(C.RTM_NEWROUTE, encodeRoute(route));
      message.writeUInt32LE(pid, 12); // nlmsg_pid: the netlink port the change came from
      return message;
    };
    const [ours, theirs] = [from(4242), from(77)];
    const other = frame(32 /* RTM_NEWRULE */, Buffer.alloc(12));
    assert.deepEqual(decodeKernelEvents(decodeMessages(Buffer.concat([ours, other, theirs])), 4242).map((event) => event.kind), ['route']);
    assert.equal(decodeKernelEvents(decodeMessages(Buffer.concat([ours, theirs]))).length, 2, 'without a port to ignore, both count');
  });
});
