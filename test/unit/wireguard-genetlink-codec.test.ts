/**
 * The kernel WireGuard genetlink codec against byte vectors laid out by hand from include/uapi/linux/wireguard.h
 * (attribute numbers, NLA_U16 host order, sockaddr ports network order, arrays as nested type-0 entries) and
 * the kernel's netlink.c dump (peers split across messages, u64 counters behind WGPEER_A_UNSPEC padding).
 * This kernel has no WireGuard, so the codec is proven here and the real-kernel test says it cannot run.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeFamily, encodeGetFamily } from '../../src/adapters/wireguard/genetlink-codec.js';
import { GenericNetlinkSocket } from '../../src/adapters/wireguard/genetlink-socket.js';
import { decodeDeviceDump, decodeSockaddr, encodeGetDevice, encodeSetDevice, encodeSockaddr } from '../../src/adapters/wireguard/wireguard-genetlink-codec.js';
import { kernelHasWireguard } from '../../src/adapters/wireguard/netlink-wireguard-control.js';
import { WireguardKey } from '../../src/backend/wireguard/wireguard-key.js';
import { Cidr, IpAddress } from '../../src/net/ip.js';

/** A netlink attribute built independently of the code under test: length, type, value, padding to 4. */
function nla(type: number, ...parts: Buffer[]): Buffer {
  const value = Buffer.concat(parts);
  const header = Buffer.alloc(4);
  header.writeUInt16LE(4 + value.length, 0);
  header.writeUInt16LE(type, 2);
  return Buffer.concat([header, value, Buffer.alloc((4 - (value.length % 4)) % 4)]);
}
const NESTED = 0x8000;
const le16 = (value: number) => { const b = Buffer.alloc(2); b.writeUInt16LE(value); return b; };
const le32 = (value: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(value); return b; };
const le64 = (value: bigint) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(value); return b; };
const genl = (cmd: number) => Buffer.from([cmd, 1, 0, 0]);
const hex = (text: string) => Buffer.from(text.replace(/#.*$/gm, '').replace(/\s+/g, ''), 'hex');

const keyA = WireguardKey.fromBytes(Buffer.alloc(32, 1));
const keyB = WireguardKey.fromBytes(Buffer.alloc(32, 2));
const privateKey = WireguardKey.parse('+CHdOG05ooiJljSeZ6j2CPw+SG4mctyTHFuvoJ/YuWk=');

describe('WireGuard genetlink codec', () => {
  it('encodes WG_CMD_SET_DEVICE byte for byte', () => {
    const [message, ...rest] = encodeSetDevice('wg0', {
      listenPort: 51820,
      peers: [{ publicKey: keyA, endpoint: { ip: IpAddress.parse('192.0.2.1'), port: 51820 }, replaceAllowedIps: true, allowedIps: [Cidr.parse('10.1.2.3/8')] }],
    });
    assert.deepEqual(rest, []);
    assert.equal(message?.toString('hex'), hex(`
      01010000                                  # genlmsghdr: cmd WG_CMD_SET_DEVICE, version 1
      08000200 77673000                         # WGDEVICE_A_IFNAME "wg0"
      06000600 6cca0000                         # WGDEVICE_A_LISTEN_PORT 51820 (NLA_U16, host order), pad
      68000880                                  # WGDEVICE_A_PEERS (nested)
        64000080                                # peer 0 (nested)
          24000100 ${'01'.repeat(32)}           # WGPEER_A_PUBLIC_KEY
          08000300 02000000                     # WGPEER_A_FLAGS REPLACE_ALLOWEDIPS
          14000400 0200ca6c c0000201 0000000000000000   # WGPEER_A_ENDPOINT sockaddr_in 192.0.2.1:51820
          20000980                              # WGPEER_A_ALLOWEDIPS (nested)
            1c000080                            # allowed IP 0 (nested)
              06000100 02000000                 # WGALLOWEDIP_A_FAMILY AF_INET, pad
              08000200 0a000000                 # WGALLOWEDIP_A_IPADDR 10.0.0.0 (masked)
              05000300 08000000                 # WGALLOWEDIP_A_CIDR_MASK 8, pad
    `).toString('hex'));
  });
  it('encodes device fields, flags, PSK clearing and removals as wireguard.h lays them out', () => {
    const [message] = encodeSetDevice('flannel-wg', {
      privateKey, fwmark: 7, replacePeers: true,
      peers: [
        { publicKey: keyA, remove: true, allowedIps: [Cidr.parse('10.0.0.0/8')] },
        { publicKey: keyB, updateOnly: true, presharedKey: null, persistentKeepaliveSeconds: 25, endpoint: { ip: IpAddress.parse('fd00::1'), port: 51821 } },
      ],
    });
    const sockaddr6 = Buffer.concat([le16(10), hex('ca6d'), le32(0), IpAddress.parse('fd00::1').toBytes(), le32(0)]);
    const expected = Buffer.concat([
      genl(1),
      nla(2, Buffer.from('flannel-wg\0')),
      nla(3, privateKey.toBytes()),
      nla(7, le32(7)),
      nla(5, le32(1)),
      nla(8 | NESTED,
        nla(0 | NESTED, nla(1, keyA.toBytes()), nla(3, le32(1))),
        nla(0 | NESTED, nla(1, keyB.toBytes()), nla(3, le32(4)), nla(2, Buffer.alloc(32)), nla(4, sockaddr6), nla(5, le16(25)))),
    ]);
    assert.equal(message?.toString('hex'), expected.toString('hex'));
  });
  it('splits a large change: device fields once, a peer continues with its key and the rest of its allowed IPs', () => {
    const many = Array.from({ length: 300 }, (_, index) => Cidr.parse(`10.${index >> 8}.${index & 255}.0/24`));
    const messages = encodeSetDevice('flannel-wg', {
      privateKey, listenPort: 51820, replacePeers: true,
      peers: [{ publicKey: keyA, replaceAllowedIps: true, allowedIps: many }, { publicKey: keyB, allowedIps: [Cidr.parse('10.200.0.0/24')] }],
    }, 2048);
    assert.ok(messages.length > 3, `${messages.length} messages`);
    for (const message of messages) assert.ok(message.length <= 2048, `message of ${message.length} bytes`);
    const hexes = messages.map((message) => message.toString('hex'));
    assert.ok(hexes[0]?.includes(privateKey.toHex()) && !hexes.slice(1).some((text) => text.includes(privateKey.toHex())), 'private key in the first message only');
    const flagsReplace = nla(3, le32(2)).toString('hex');
    assert.equal(hexes.filter((text) => text.includes(flagsReplace)).length, 1, 'REPLACE_ALLOWEDIPS in the first fragment only');
    // The set messages have the dump's layout: coalescing them gives back the whole change.
    const merged = decodeDeviceDump(messages, 'flannel-wg');
    assert.deepEqual(merged.peers.map((peer) => [peer.publicKey.toHex().slice(0, 2), peer.allowedIps.length]), [['01', 300], ['02', 1]]);
    assert.deepEqual(merged.peers[0]?.allowedIps.map(String), many.map(String));
  });
  it('decodes a two-message dump, coalescing the peer split across them', () => {
    const handshake = Buffer.concat([le64(1_700_000_000n), le64(500_000_000n)]);
    const allowed = (family: number, address: string, mask: number) =>
      nla(0 | NESTED, nla(3, Buffer.from([mask])), nla(1, le16(family)), nla(2, IpAddress.parse(address).toBytes()));
    const first = Buffer.concat([
      genl(0),
      nla(6, le16(51820)), nla(7, le32(0)), nla(1, le32(5)), nla(2, Buffer.from('flannel-wg\0')),
      nla(3, privateKey.toBytes()), nla(4, privateKey.publicKey().toBytes()),
      nla(8 | NESTED, nla(0 | NESTED,
        nla(1, keyA.toBytes()), nla(2, Buffer.alloc(32)), nla(6, handshake), nla(5, le16(25)),
        nla(0), nla(8, le64(1234n)), nla(0), nla(7, le64(98765432109n)), nla(10, le32(1)),
        nla(4, Buffer.concat([le16(2), hex('ca6c'), IpAddress.parse('198.18.0.12').toBytes(), Buffer.alloc(8)])),
        nla(9 | NESTED, allowed(2, '10.244.2.0', 24)))),
    ]);
    const second = Buffer.concat([
      genl(0),
      nla(2, Buffer.from('flannel-wg\0')),
      nla(8 | NESTED,
        nla(0 | NESTED, nla(1, keyA.toBytes()), nla(9 | NESTED, allowed(10, 'fd00:10:244:2::', 64))),
        nla(0 | NESTED, nla(1, keyB.toBytes()), nla(2, Buffer.alloc(32, 9)), nla(5, le16(0)),
          nla(4, Buffer.concat([le16(10), hex('ca6d'), le32(0), IpAddress.parse('fd00:198::13').toBytes(), le32(0)])))),
    ]);
    const state = decodeDeviceDump([first, second], 'x');
    assert.equal(state.name, 'flannel-wg');
    assert.equal(state.listenPort, 51820);
    assert.equal(state.publicKey?.toString(), 'qBAi3u3tM9Vg8Hk/mKpRyNxjS5f6pZjlPtSDyo0NLSM=');
    assert.deepEqual(state.peers.map((peer) => ({
      key: peer.publicKey.toHex().slice(0, 2), psk: peer.presharedKey?.toHex().slice(0, 2), endpoint: peer.endpoint && `${peer.endpoint.ip}:${peer.endpoint.port}`,
      keepalive: peer.persistentKeepaliveSeconds, allowed: peer.allowedIps.map(String), handshake: peer.lastHandshakeEpochMs, rx: peer.rxBytes, tx: peer.txBytes,
    })), [
      { key: '01', psk: undefined, endpoint: '198.18.0.12:51820', keepalive: 25, allowed: ['10.244.2.0/24', 'fd00:10:244:2::/64'], handshake: 1_700_000_000_500, rx: 98765432109n, tx: 1234n },
      { key: '02', psk: '09', endpoint: 'fd00:198::13:51821', keepalive: 0, allowed: [], handshake: undefined, rx: 0n, tx: 0n },
    ]);
  });
  it('encodes the dump request and the controller lookup; decodes the controller reply', () => {
    assert.equal(encodeGetDevice('flannel-wg').toString('hex'), Buffer.concat([genl(0), nla(2, Buffer.from('flannel-wg\0'))]).toString('hex'));
    assert.equal(encodeGetFamily('wireguard').toString('hex'), Buffer.concat([Buffer.from([3, 1, 0, 0]), nla(2, Buffer.from('wireguard\0'))]).toString('hex'));
    const reply = Buffer.concat([Buffer.from([1, 2, 0, 0]), nla(2, Buffer.from('wireguard\0')), nla(1, le16(0x1b)), nla(3, le32(1)), nla(4, le32(0)), nla(5, le32(8))]);
    assert.deepEqual(decodeFamily(reply), { name: 'wireguard', id: 0x1b, version: 1 });
    assert.equal(decodeFamily(Buffer.from([1, 2, 0, 0])), undefined);
  });
  it('round-trips sockaddr_in / sockaddr_in6 and ignores other families', () => {
    for (const [ip, port] of [['198.18.0.1', 1], ['fd00:198::1', 65535]] as const) {
      const endpoint = { ip: IpAddress.parse(ip), port };
      assert.deepEqual(decodeSockaddr(encodeSockaddr(endpoint)), endpoint);
    }
    assert.equal(encodeSockaddr({ ip: IpAddress.parse('fd00::1'), port: 1 }).length, 28);
    assert.equal(decodeSockaddr(Buffer.concat([le16(1), Buffer.alloc(14)])), undefined);
    assert.equal(decodeSockaddr(Buffer.alloc(1)), undefined);
  });
  it('the real kernel: the controller answers; WireGuard itself says plainly when it cannot run', (t) => {
    let available: boolean;
    try {
      const socket = GenericNetlinkSocket.open();
      try {
        assert.deepEqual(socket.resolveFamily('nlctrl'), { name: 'nlctrl', id: 0x10, version: 2 }, 'the controller resolves itself');
        assert.equal(socket.resolveFamily('no-such-family'), undefined);
      } finally {
        socket.close();
      }
      available = kernelHasWireguard();
    } catch (error) {
      t.diagnostic(`cannot open a generic netlink socket here (${(error as Error).message}); the kernel path is proven by the byte vectors only`);
      return;
    }
    if (!available) {
      t.diagnostic('this kernel has no WireGuard (no generic-netlink family "wireguard"): the real-kernel WireGuard test cannot run here; the codec is proven by the byte vectors above');
      return;
    }
    t.diagnostic('this kernel has WireGuard: run the contract suite with a kernel device to cover it');
  });
});
