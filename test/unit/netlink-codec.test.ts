import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AttributeWriter, decodeAck, decodeAttributes, decodeMessages, encodeMessage, kernelError } from '../../src/adapters/netlink/codec.js';
import * as C from '../../src/adapters/netlink/constants.js';
import {
  decodeAddress, decodeLink, decodeNeighbour, decodeRoute, decodeVxlanAttributes, encodeAddress, encodeNeighbour, encodeRoute, encodeVxlanLink,
} from '../../src/adapters/netlink/messages.js';
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
    const body = encodeVxlanLink({
      name: 'flannel.1', vni: 1, port: 8472, local: IpAddress.parse('198.18.0.11'), underlayIndex: 2, learning: false, gbp: true, mtu: 1450,
      mac: MacAddress.parse('02:aa:bb:cc:dd:ee'),
    });
    const link = decodeLink(body);
    assert.deepEqual([link.name, link.mtu, link.mac?.toString(), link.kind], ['flannel.1', 1450, '02:aa:bb:cc:dd:ee', 'vxlan']);
    assert.deepEqual(decodeVxlanAttributes(body), { gbp: true, vni: 1, port: 8472, local: IpAddress.parse('198.18.0.11'), underlayIndex: 2, learning: false });
  });
  it('nested attributes decode with the nested flag masked', () => {
    const buffer = new AttributeWriter().nested(18, (inner) => inner.string(1, 'veth')).toBuffer();
    assert.ok(decodeAttributes(buffer).has(18));
  });
});
