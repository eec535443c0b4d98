/**
 * The offload arithmetic of the udp data path, on bytes: the fast checksum, TCP segmentation of TSO
 * superpackets (every segment a valid packet an upstream peer's kernel accepts), completing partial checksums,
 * and coalescing segments back into one superpacket write.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { fastSum, foldSum, onesComplementSum } from '../../src/backend/udp/internet-checksum.js';
import { PacketBatch } from '../../src/backend/udp/packet-ports.js';
import { ChecksumArena } from '../../src/backend/udp/simd-checksum.js';
import { coalescibleRun, writeCoalescedHeader } from '../../src/backend/udp/tcp-coalescer.js';
import { completeChecksum, segmentTcp } from '../../src/backend/udp/tcp-segmenter.js';
import { TIMESTAMPS, headerIsValid, tcpSegment, transportChecksum, transportChecksumIsValid, udpPacket } from '../support/ipv4-packets.js';

const packetOf = (batch: PacketBatch, index: number) =>
  batch.buffer.subarray(batch.offsets[index] as number, (batch.offsets[index] as number) + (batch.lengths[index] as number));

const pattern = (length: number, seed = 7) => Buffer.from(Array.from({ length }, (_, index) => (index * seed + (index >> 8)) & 0xff));

describe('fast checksum', () => {
  it('agrees with the plain sum at every alignment and length', () => {
    const data = pattern(70000, 13);
    fc.assert(fc.property(fc.integer({ min: 0, max: 4000 }), fc.integer({ min: 0, max: 65536 }), (offset, length) => {
      assert.equal(fastSum(data, offset, length), foldSum(onesComplementSum(data, offset, length)));
    }));
  });

  it('sums in WebAssembly SIMD inside a ChecksumArena, agreeing with the plain sum', () => {
    const arena = ChecksumArena.create(70000);
    assert.ok(arena, 'Node 20 has WebAssembly SIMD');
    pattern(70000, 29).copy(arena.buffer);
    fc.assert(fc.property(fc.integer({ min: 0, max: 4000 }), fc.integer({ min: 0, max: 65536 }), (offset, length) => {
      assert.equal(fastSum(arena.buffer, offset, length), foldSum(onesComplementSum(arena.buffer, offset, length)));
    }));
    const view = arena.buffer.subarray(1001, 5000);
    assert.equal(fastSum(view, 3, 2999), foldSum(onesComplementSum(arena.buffer, 1004, 2999)), 'a view at an odd offset');
  });

  it('reads a view inside a larger ArrayBuffer at the view\'s own offset', () => {
    const backing = pattern(4096);
    const view = backing.subarray(100);
    assert.equal(fastSum(view, 4, 1000), foldSum(onesComplementSum(backing, 104, 1000)));
  });
});

describe('TCP segmentation of a TSO superpacket', () => {
  const superpacket = (payloadBytes: number, flags = 0x18, options: Partial<Parameters<typeof tcpSegment>[0]> = {}) =>
    tcpSegment({ payload: pattern(payloadBytes), flags, sequence: 0xfffff000, id: 0xfffe, ...options });

  it('cuts 3000 bytes at 1000 into three valid packets: lengths, ids, sequence numbers, PSH on the last only', () => {
    const batch = new PacketBatch(64, 1 << 20);
    const source = Buffer.concat([Buffer.alloc(10), superpacket(3000)]);
    assert.equal(segmentTcp(source, 10, source.length - 10, 1000, batch), 3);
    const segments = [0, 1, 2].map((index) => packetOf(batch, index));
    assert.deepEqual(segments.map((segment) => segment.length), [1052, 1052, 1052]);
    assert.deepEqual(segments.map((segment) => segment.readUInt16BE(2)), [1052, 1052, 1052], 'IP total length');
    assert.deepEqual(segments.map((segment) => segment.readUInt16BE(4)), [0xfffe, 0xffff, 0x0000], 'IP id +1 per segment, wrapping');
    assert.deepEqual(segments.map((segment) => segment.readUInt32BE(24)), [0xfffff000, 0xfffff3e8, 0xfffff7d0], 'sequence numbers');
    assert.deepEqual(segments.map((segment) => segment[33]), [0x10, 0x10, 0x18], 'PSH only on the last');
    for (const segment of segments) {
      assert.ok(headerIsValid(segment), 'IP checksum');
      assert.ok(transportChecksumIsValid(segment), 'TCP checksum');
      assert.deepEqual(segment.subarray(40, 52), TIMESTAMPS, 'options copied');
    }
    assert.deepEqual(Buffer.concat(segments.map((segment) => segment.subarray(52))), pattern(3000), 'payload in order');
    assert.ok([0, 1, 2].every((index) => (batch.offsets[index] as number) % 16 === 0), 'segments 16-byte aligned');
  });

  it('leaves the remainder in a shorter last segment, FIN on the last only, CWR on the first only', () => {
    const batch = new PacketBatch(64, 1 << 20);
    const source = superpacket(2500, 0x80 | 0x10 | 0x01);
    assert.equal(segmentTcp(source, 0, source.length, 1000, batch), 3);
    assert.deepEqual([0, 1, 2].map((index) => batch.lengths[index]), [1052, 1052, 552]);
    assert.deepEqual([0, 1, 2].map((index) => packetOf(batch, index)[33]), [0x90, 0x10, 0x11]);
  });

  const arena = ChecksumArena.create(65536 + 64);
  it('keeps every segment valid for any payload and segment size, read into plain memory or a ChecksumArena', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 20000 }), fc.integer({ min: 1, max: 1460 }), fc.boolean(), (payloadBytes, segmentPayload, inArena) => {
      const batch = new PacketBatch(20001, 1 << 23);
      let source = superpacket(payloadBytes, 0x10, { options: Buffer.alloc(0) });
      if (inArena && arena) source = arena.buffer.subarray(10, 10 + source.copy(arena.buffer, 10));
      const count = segmentTcp(source, 0, source.length, segmentPayload, batch);
      assert.equal(count, Math.ceil(payloadBytes / segmentPayload));
      const payloads: Buffer[] = [];
      for (let index = 0; index < count; index++) {
        const segment = packetOf(batch, index);
        if (!headerIsValid(segment) || !transportChecksumIsValid(segment)) assert.fail(`segment ${index} of ${count} has a bad checksum`);
        payloads.push(segment.subarray(40));
      }
      assert.ok(Buffer.concat(payloads).equals(pattern(payloadBytes)));
    }), { numRuns: 60 });
  });

  const refused = [
    { name: 'UDP', packet: udpPacket('10.244.1.2', '10.244.2.2', 'x'.repeat(100)), result: -1 },
    { name: 'TCP without payload', packet: tcpSegment({ payload: Buffer.alloc(0) }), result: -1 },
    { name: 'IPv6', packet: Buffer.concat([Buffer.from([0x60]), Buffer.alloc(100)]), result: -1 },
    { name: 'a TCP header running past the packet', packet: tcpSegment().subarray(0, 45), result: -1 },
  ];
  for (const { name, packet, result } of refused) {
    it(`refuses ${name}`, () => assert.equal(segmentTcp(packet, 0, packet.length, 1000, new PacketBatch(64, 1 << 20)), result));
  }

  it('appends nothing and says so when the batch cannot take every segment', () => {
    const batch = new PacketBatch(2, 1 << 20);
    const source = superpacket(3000);
    assert.equal(segmentTcp(source, 0, source.length, 1000, batch), 0);
    assert.equal(batch.count, 0);
  });
});

describe('completing a partial checksum (NEEDS_CSUM)', () => {
  /** The packet as the kernel hands it over: the transport checksum field holds the pseudo-header sum. */
  function partial(packet: Buffer, field: number): Buffer {
    const copy = Buffer.from(packet);
    const pseudo = Buffer.alloc(12);
    packet.copy(pseudo, 0, 12, 20);
    pseudo[9] = packet[9] as number;
    pseudo.writeUInt16BE(packet.length - 20, 10);
    copy.writeUInt16BE(foldSum(onesComplementSum(pseudo, 0, 12)), 20 + field);
    return copy;
  }

  for (const [name, packet, field] of [['TCP', tcpSegment({ payload: pattern(999) }), 16], ['UDP', udpPacket('10.244.1.2', '10.244.2.2', 'odd length!'), 6]] as const) {
    it(`finishes a ${name} checksum`, () => {
      const copy = partial(packet, field);
      assert.equal(completeChecksum(copy, 0, copy.length, 20, field), true);
      assert.equal(copy.readUInt16BE(20 + field), transportChecksum(packet));
    });
  }

  it('sends a UDP checksum that comes out 0 as 0xFFFF', () => {
    const packet = udpPacket('10.244.1.2', '10.244.2.2', 'zz');
    packet.writeUInt16BE(0, 28);
    packet.writeUInt16BE(transportChecksum(packet), 28); // the payload word that makes the sum 0xFFFF, i.e. checksum 0
    assert.equal(transportChecksum(packet), 0);
    const copy = partial(packet, 6);
    assert.equal(completeChecksum(copy, 0, copy.length, 20, 6), true);
    assert.equal(copy.readUInt16BE(26), 0xffff);
  });

  it('refuses offsets outside the packet', () => {
    const packet = tcpSegment();
    assert.equal(completeChecksum(packet, 0, packet.length, 20, packet.length), false);
    assert.equal(completeChecksum(packet, 0, packet.length, 4, 16), false);
  });
});

describe('TCP coalescing for superpacket writes', () => {
  /** A batch holding `packets` in order, and the list 0..n-1. */
  function batchOf(packets: Buffer[]): { batch: PacketBatch; list: Int32Array } {
    const batch = new PacketBatch(256, 1 << 21);
    for (const packet of packets) packet.copy(batch.buffer, batch.offsets[batch.append(packet.length)] as number);
    return { batch, list: Int32Array.from(packets.map((_, index) => index)) };
  }
  /** `count` consecutive segments of one flow, 1000 bytes each unless `last` says otherwise. */
  function flow(count: number, change: (index: number) => Partial<Parameters<typeof tcpSegment>[0]> = () => ({}), last = 1000): Buffer[] {
    return Array.from({ length: count }, (_, index) => {
      const size = index === count - 1 ? last : 1000;
      return tcpSegment({ sequence: 5000 + index * 1000, id: 0x2000 + index, payload: pattern(size, index + 3), ...change(index) });
    });
  }

  it('joins a flow into one superpacket whose header the kernel can finish', () => {
    const segments = flow(5, (index) => (index === 4 ? { flags: 0x18 } : {}), 300);
    const { batch, list } = batchOf(segments);
    assert.equal(coalescibleRun(batch, list, 0, 5), 5);
    const header = Buffer.alloc(128);
    const length = writeCoalescedHeader(batch, list, 0, 5, header, 0);
    assert.equal(length, 10 + 52);
    assert.equal(header.subarray(0, 10).toString('hex'), '0101' + '3400' + 'e803' + '1400' + '1000', 'virtio: NEEDS_CSUM, TCPV4, hdr 52, MSS 1000, csum at 20+16');
    const ip = header.subarray(10, length);
    assert.equal(ip.readUInt16BE(2), 52 + 4300);
    assert.ok(headerIsValid(ip));
    assert.equal(ip[33], 0x18, 'flags of the last segment (PSH)');
    const whole = Buffer.concat([ip, ...segments.map((segment) => segment.subarray(52))]);
    const pseudoOnly = Buffer.alloc(12);
    whole.copy(pseudoOnly, 0, 12, 20);
    pseudoOnly[9] = 6;
    pseudoOnly.writeUInt16BE(whole.length - 20, 10);
    assert.equal(ip.readUInt16BE(36), foldSum(onesComplementSum(pseudoOnly, 0, 12)), 'TCP checksum field = pseudo-header sum');
    // Finishing it the way the kernel does gives the checksum of the joined packet.
    assert.equal(completeChecksum(whole, 0, whole.length, 20, 16), true);
    assert.ok(transportChecksumIsValid(whole));
  });

  it('rebuilds what segmentation took apart (round trip)', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 60000 }), fc.integer({ min: 500, max: 1448 }), (payloadBytes, segmentPayload) => {
      const original = tcpSegment({ payload: pattern(payloadBytes), flags: 0x18, sequence: 123456 });
      const segments = new PacketBatch(4096, 1 << 22);
      const count = segmentTcp(original, 0, original.length, segmentPayload, segments);
      const list = Int32Array.from({ length: count }, (_, index) => index);
      assert.equal(coalescibleRun(segments, list, 0, count), Math.min(count, 64));
      if (count > 64) return;
      const header = Buffer.alloc(128);
      const length = writeCoalescedHeader(segments, list, 0, count, header, 0);
      if (count === 1) return;
      const rebuilt = Buffer.concat([header.subarray(10, length), ...Array.from(list, (index) => packetOf(segments, index).subarray(52))]);
      assert.ok(rebuilt.subarray(52).equals(original.subarray(52)), 'payload');
      assert.equal(rebuilt.readUInt16BE(2), original.length);
      assert.equal(rebuilt.readUInt32BE(24), 123456);
    }), { numRuns: 40 });
  });

  const breaks: Array<{ name: string; segments: Buffer[]; run: number }> = [
    { name: 'a sequence gap', segments: flow(4, (index) => (index === 2 ? { sequence: 5000 + 2 * 1000 + 1 } : {})), run: 2 },
    { name: 'another flow (port)', segments: flow(3, (index) => (index === 1 ? { sourcePort: 40001 } : {})), run: 1 },
    { name: 'another ACK number', segments: flow(3, (index) => (index === 2 ? { ack: 778 } : {})), run: 2 },
    { name: 'another window', segments: flow(3, (index) => (index === 1 ? { window: 502 } : {})), run: 1 },
    { name: 'other options bytes', segments: flow(3, (index) => (index === 1 ? { options: Buffer.from('0101080a0000100100002000', 'hex') } : {})), run: 1 },
    { name: 'another TTL', segments: flow(3, (index) => (index === 1 ? { ttl: 63 } : {})), run: 1 },
    { name: 'a SYN', segments: flow(3, (index) => (index === 1 ? { flags: 0x12 } : {})), run: 1 },
    { name: 'a FIN', segments: flow(3, (index) => (index === 2 ? { flags: 0x11 } : {})), run: 2 },
    { name: 'PSH in the middle (it ends the run)', segments: flow(4, (index) => (index === 1 ? { flags: 0x18 } : {})), run: 2 },
    { name: 'PSH on the first (nothing joins it)', segments: flow(3, (index) => (index === 0 ? { flags: 0x18 } : {})), run: 1 },
    { name: 'a shorter segment in the middle (it ends the run)', segments: flow(4, (index) => (index === 1 ? { payload: pattern(500) } : {})), run: 2 },
    { name: 'a longer segment than the first', segments: flow(3, (index) => (index === 1 ? { payload: pattern(1200) } : {})), run: 1 },
    { name: 'ids out of order without DF', segments: flow(3, (index) => ({ fragment: 0, id: index === 1 ? 0x3000 : 0x2000 + index })), run: 1 },
    { name: 'a fragment (MF)', segments: flow(3, (index) => (index === 1 ? { fragment: 0x2000 } : {})), run: 1 },
  ];
  for (const { name, segments, run } of breaks) {
    it(`stops at ${name}`, () => {
      const { batch, list } = batchOf(segments);
      assert.equal(coalescibleRun(batch, list, 0, segments.length), run);
    });
  }

  it('ignores ids when DF is set (the kernel may send fixed ids)', () => {
    const { batch, list } = batchOf(flow(3, () => ({ id: 0x4444 })));
    assert.equal(coalescibleRun(batch, list, 0, 3), 3);
  });

  it('never joins more than 64 KiB', () => {
    const { batch, list } = batchOf(flow(70));
    assert.equal(coalescibleRun(batch, list, 0, 70), 64);
    const big = batchOf(Array.from({ length: 60 }, (_, index) => tcpSegment({ sequence: index * 1400, id: index, payload: pattern(1400) })));
    assert.equal(coalescibleRun(big.batch, big.list, 0, 60), 46, '46 × 1400 + 52 ≤ 65535 < 47 × 1400 + 52');
  });

  it('leaves UDP and IP options alone', () => {
    const udp = batchOf([udpPacket('10.244.1.2', '10.244.2.2', 'a'), udpPacket('10.244.1.2', '10.244.2.2', 'b')]);
    assert.equal(coalescibleRun(udp.batch, udp.list, 0, 2), 1);
    const withOptions = flow(2).map((segment) => Buffer.concat([Buffer.from([0x46]), segment.subarray(1, 20), Buffer.alloc(4), segment.subarray(20)]));
    const options = batchOf(withOptions);
    assert.equal(coalescibleRun(options.batch, options.list, 0, 2), 1);
  });

  it('uses the list order, not the batch order', () => {
    const segments = flow(3);
    const { batch } = batchOf([segments[2] as Buffer, segments[0] as Buffer, segments[1] as Buffer]);
    assert.equal(coalescibleRun(batch, Int32Array.of(1, 2, 0), 0, 3), 3);
  });
});
