/**
 * Two udp data paths joined by the in-memory doubles (ChannelTun per host, one MemoryUdpNetwork as the
 * underlay): pods ping each other both ways, TTL is spent on each hop, a packet without a route earns an ICMP
 * net unreachable, datagrams from strangers are dropped, a deleted device comes back, and the counters add up.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ChannelTunHost, type ChannelTun } from '../../src/backend/udp/channel-tun.js';
import { DatapathCounters } from '../../src/backend/udp/datapath-counters.js';
import { MemoryUdpNetwork } from '../../src/backend/udp/memory-udp.js';
import type { IcmpSender } from '../../src/backend/udp/packet-ports.js';
import { PeerRoutes, type UdpPeer } from '../../src/backend/udp/peer-routes.js';
import { UdpRouteTable } from '../../src/backend/udp/route-table.js';
import { UdpForwarder } from '../../src/backend/udp/udp-forwarder.js';
import { Cidr, IpAddress } from '../../src/net/ip.js';
import { echoReplyTo, headerIsValid, icmpEcho, ipNumber, udpPacket } from '../support/ipv4-packets.js';

const PORT = 8285;

class Host {
  readonly tunHost = new ChannelTunHost();
  readonly counters = new DatapathCounters();
  readonly routes = new UdpRouteTable();
  readonly peerRoutes = new PeerRoutes(PORT);
  readonly devices: Array<{ name: string; index: number; reopened: boolean }> = [];
  readonly deviceErrors: string[] = [];
  readonly forwarder: UdpForwarder;

  constructor(
    network: MemoryUdpNetwork,
    readonly subnet: number,
    readonly publicIp: string,
    batchSize = 8,
    icmpSender?: IcmpSender,
  ) {
    this.forwarder = new UdpForwarder({
      ...(icmpSender ? { icmpSender } : {}),
      tunOpener: this.tunHost, tunName: 'flannel%d', udp: network.bind({ address: ipNumber(publicIp), port: PORT }, { receiveBytes: 2048 }),
      routes: this.routes, counters: this.counters, tunAddress: ipNumber(`10.244.${subnet}.0`), batchPackets: batchSize, batchBytes: 1 << 20,
      onDevice: (device, reopened) => this.devices.push({ name: device.name, index: device.index, reopened }),
      onDeviceError: (error) => this.deviceErrors.push(error.message),
    });
  }

  get tun(): ChannelTun {
    return this.tunHost.devices.get(this.forwarder.device?.name ?? '') as ChannelTun;
  }

  peer(): UdpPeer {
    return { subnet: Cidr.parse(`10.244.${this.subnet}.0/24`), publicIp: IpAddress.parse(this.publicIp) };
  }

  setPeers(peers: Host[]): void {
    this.routes.apply(this.peerRoutes.replace(peers.map((peer) => peer.peer())).changes);
  }

  count(name: keyof ReturnType<DatapathCounters['snapshot']>['counters']): number {
    return this.counters.snapshot().counters[name];
  }
}

function pair() {
  const network = new MemoryUdpNetwork();
  const a = new Host(network, 1, '198.18.0.1');
  const b = new Host(network, 2, '198.18.0.2');
  a.setPeers([b]);
  b.setPeers([a]);
  return { network, a, b };
}

/** Makes the host's "kernel" answer echo requests it receives, as a pod would. */
function answerPings(tun: ChannelTun): void {
  tun.onDeliver = (packet) => {
    if (packet[9] === 1 && packet[20] === 8) tun.inject(echoReplyTo(packet));
  };
}

/** Runs every forwarder until none moves a packet (the worker's loop without the poll). */
function pump(...hosts: Host[]): void {
  for (let round = 0; round < 1000; round++) {
    let moved = 0;
    for (const host of hosts) moved += host.forwarder.fromTun() + host.forwarder.fromUdp();
    if (moved === 0) return;
  }
  assert.fail('the forwarders never went quiet');
}

describe('udp data path, two hosts over in-memory doubles', () => {
  it('carries a ping both ways, spending one TTL per hop with valid checksums', () => {
    const { a, b } = pair();
    answerPings(b.tun);
    const request = icmpEcho('10.244.1.2', '10.244.2.2', { sequence: 7 });
    a.tun.inject(request);
    pump(a, b);
    const arrived = b.tun.delivered[0] as Uint8Array;
    assert.equal(arrived[8], 62, 'TTL 64 − 1 on send − 1 on receive');
    assert.ok(headerIsValid(arrived));
    assert.deepEqual(Buffer.from(arrived.subarray(12)), request.subarray(12), 'everything past TTL/protocol/checksum is untouched');
    const reply = a.tun.delivered[0] as Uint8Array;
    assert.equal(reply[20], 0, 'echo reply');
    assert.equal(Buffer.from(reply).readUInt16BE(26), 7);
    assert.equal(reply[8], 62);
    assert.ok(headerIsValid(reply));

    answerPings(a.tun);
    b.tun.inject(icmpEcho('10.244.2.2', '10.244.1.2', { sequence: 8 }));
    pump(a, b);
    assert.equal(Buffer.from(b.tun.delivered[1] as Uint8Array).readUInt16BE(26), 8, 'B got its reply from A');
  });

  it('moves more packets than one batch holds, in order, and the counters add up on both sides', () => {
    const { a, b } = pair();
    for (let sequence = 0; sequence < 50; sequence++) a.tun.inject(udpPacket('10.244.1.2', '10.244.2.2', `datagram ${sequence}`));
    pump(a, b);
    assert.deepEqual(b.tun.delivered.map((packet) => Buffer.from(packet).subarray(28).toString()), Array.from({ length: 50 }, (_, sequence) => `datagram ${sequence}`));
    const sent = a.counters.snapshot();
    const received = b.counters.snapshot();
    assert.equal(sent.counters.tunPacketsRead, 50);
    assert.equal(sent.counters.udpPacketsSent, 50);
    assert.equal(received.counters.udpPacketsReceived, 50);
    assert.equal(received.counters.tunPacketsWritten, 50);
    assert.equal(sent.counters.udpBytesSent, received.counters.udpBytesReceived);
    assert.equal(received.counters.tunBytesWritten, received.counters.udpBytesReceived);
    assert.deepEqual(sent.batches.udpSend, [0, 1, 0, 6, 0, 0, 0, 0], 'six full batches of 8, then one of 2');
  });

  it('drops a packet whose TTL runs out on either hop', () => {
    const { a, b } = pair();
    a.tun.inject(udpPacket('10.244.1.2', '10.244.2.2', 'ttl 1', { ttl: 1 }));
    a.tun.inject(udpPacket('10.244.1.2', '10.244.2.2', 'ttl 2', { ttl: 2 }));
    a.tun.inject(udpPacket('10.244.1.2', '10.244.2.2', 'ttl 3', { ttl: 3 }));
    pump(a, b);
    assert.equal(a.count('dropTtlExpired'), 1, 'TTL 1 dies on send');
    assert.equal(a.count('udpPacketsSent'), 2);
    assert.equal(b.count('dropTtlExpired'), 1, 'TTL 2 dies on receive');
    assert.deepEqual(b.tun.delivered.map((packet) => [Buffer.from(packet).subarray(28).toString(), packet[8]]), [['ttl 3', 1]]);
  });

  it('answers a packet without a route with ICMP net unreachable, but not an ICMP packet', () => {
    const { a, b } = pair();
    const offender = udpPacket('10.244.1.2', '10.244.9.9', 'nobody home');
    a.tun.inject(offender);
    a.tun.inject(icmpEcho('10.244.1.2', '10.244.9.9'));
    pump(a, b);
    assert.equal(a.count('dropNoRoute'), 2);
    assert.equal(a.count('icmpUnreachableSent'), 1);
    assert.equal(a.count('udpPacketsSent'), 0);
    const reply = Buffer.from(a.tun.delivered[0] as Uint8Array);
    assert.equal(a.tun.delivered.length, 1);
    assert.deepEqual([reply[8], reply[9], reply[20], reply[21]], [8, 1, 3, 0], 'TTL 8, ICMP type 3 code 0');
    assert.equal(reply.readUInt32BE(12), ipNumber('10.244.1.0'), 'from our TUN address');
    assert.equal(reply.readUInt32BE(16), ipNumber('10.244.1.2'), 'to the sender');
    assert.deepEqual(reply.subarray(28), offender.subarray(0, 28), 'quoting the offender as it was read');
    assert.ok(headerIsValid(reply));
  });

  it('with an ICMP sender, sends the same reply out through the host to the offender\u2019s source, not into the TUN', () => {
    const sent: Array<{ packet: Buffer; destination: number }> = [];
    let accept = true;
    const sender: IcmpSender = { send: (packet, length, destination) => (sent.push({ packet: Buffer.from(packet.subarray(0, length)), destination }), accept), close: () => undefined };
    const host = new Host(new MemoryUdpNetwork(), 1, '198.18.0.1', 8, sender);
    const offender = udpPacket('10.244.1.2', '10.244.9.9', 'nobody home');
    host.tun.inject(offender);
    pump(host);
    assert.equal(host.tun.delivered.length, 0, 'nothing written into the TUN');
    assert.equal(sent.length, 1);
    const reply = sent[0]?.packet as Buffer;
    assert.equal(sent[0]?.destination, ipNumber('10.244.1.2'));
    assert.deepEqual([reply[8], reply[9], reply[20], reply[21], reply.readUInt32BE(12)], [8, 1, 3, 0, ipNumber('10.244.1.0')], 'upstream\u2019s bytes: TTL 8, ICMP 3/0 from our TUN address');
    assert.deepEqual(reply.subarray(28), offender.subarray(0, 28));
    assert.equal(host.count('icmpUnreachableSent'), 1);
    accept = false;
    host.tun.inject(offender);
    pump(host);
    assert.equal(host.count('icmpUnreachableSent'), 1, 'a refused send is not counted as sent');
    assert.equal(host.count('dropNoRoute'), 2);
  });

  it('drops datagrams from anyone who is not a current peer, and counts them', () => {
    const { network, a, b } = pair();
    const stranger = { address: ipNumber('198.18.0.99'), port: PORT };
    assert.ok(network.deliver(stranger, { address: ipNumber('198.18.0.2'), port: PORT }, udpPacket('10.244.1.2', '10.244.2.2', 'spoofed')));
    pump(a, b);
    assert.equal(b.count('dropUnknownSource'), 1);
    assert.equal(b.tun.delivered.length, 0);

    b.setPeers([]);
    a.tun.inject(udpPacket('10.244.1.2', '10.244.2.2', 'from a former peer'));
    pump(a, b);
    assert.equal(b.count('dropUnknownSource'), 2);
    assert.equal(b.tun.delivered.length, 0);

    b.setPeers([a]);
    a.tun.inject(udpPacket('10.244.1.2', '10.244.2.2', 'peer again'));
    pump(a, b);
    assert.equal(b.tun.delivered.length, 1);
  });

  it('drops malformed datagrams from a peer: runts, IPv6, oversized', () => {
    const { network, a, b } = pair();
    const from = { address: ipNumber('198.18.0.1'), port: PORT };
    const to = { address: ipNumber('198.18.0.2'), port: PORT };
    network.deliver(from, to, Buffer.alloc(19, 0x45));
    network.deliver(from, to, Buffer.concat([Buffer.from('6000000000003a40', 'hex'), Buffer.alloc(32)]));
    network.deliver(from, to, Buffer.concat([Buffer.from([0x6f]), Buffer.alloc(40)]));
    network.deliver(from, to, Buffer.concat([udpPacket('10.244.1.2', '10.244.2.2', 'x'), Buffer.alloc(3000)]));
    pump(a, b);
    const counters = b.counters.snapshot().counters;
    assert.deepEqual([counters.dropRunt, counters.dropNotIpv4, counters.dropTruncated], [1, 2, 1]);
    assert.equal(b.tun.delivered.length, 0);
  });

  it('opens the device again, same name, when someone deletes it, and traffic resumes', () => {
    const { a, b } = pair();
    assert.deepEqual(b.devices, [{ name: 'flannel0', index: 10, reopened: false }]);
    b.tunHost.deleteLink('flannel0');
    a.tun.inject(udpPacket('10.244.1.2', '10.244.2.2', 'while gone'));
    a.forwarder.fromTun();
    b.forwarder.fromUdp(); // the write finds the device gone: this packet is lost, the device reopened
    assert.deepEqual(b.devices.at(-1), { name: 'flannel0', index: 11, reopened: true });
    assert.equal(b.count('deviceReopens'), 1);
    a.tun.inject(udpPacket('10.244.1.2', '10.244.2.2', 'after'));
    pump(a, b);
    assert.deepEqual(b.tun.delivered.map((packet) => Buffer.from(packet).subarray(28).toString()), ['after'], 'the packet in flight went down with the old device');
    assert.equal(b.count('dropTunWriteFailed'), 1);
  });

  it('takes the next free name when its own was taken by another device, and reports when it can open none', () => {
    const { a, b } = pair();
    b.tunHost.deleteLink('flannel0');
    b.tunHost.otherLinks.add('flannel0');
    b.forwarder.fromTun();
    assert.deepEqual(b.devices.at(-1), { name: 'flannel1', index: 11, reopened: true });

    b.tunHost.deleteLink('flannel1');
    const failing = { open: () => { throw new Error('no more devices'); } };
    Object.assign(b.tunHost, failing);
    b.forwarder.fromTun();
    assert.equal(b.forwarder.device, undefined);
    assert.equal(b.deviceErrors.length, 1);
    a.tun.inject(udpPacket('10.244.1.2', '10.244.2.2', 'into the void'));
    pump(a, b);
    assert.equal(b.count('dropTunWriteFailed'), 1);
  });

  it('closes its device and socket on close (the device vanishes with its descriptor)', () => {
    const { network, a } = pair();
    a.forwarder.close();
    assert.equal(a.tunHost.devices.size, 0);
    assert.doesNotThrow(() => network.bind({ address: ipNumber('198.18.0.1'), port: PORT }));
  });
});
