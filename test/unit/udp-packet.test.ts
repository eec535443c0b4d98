import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { internetChecksum } from '../../src/backend/udp/internet-checksum.js';
import { PacketProblem, checkIpv4, decrementTtl, incrementalChecksum } from '../../src/backend/udp/ipv4-packet.js';
import { buildNetUnreachable } from '../../src/backend/udp/net-unreachable.js';

const hex = (text: string) => Buffer.from(text.replace(/\s+/g, ''), 'hex');

/**
 * Upstream's C, transcribed: on little-endian amd64 `iph->check` reads the two checksum bytes swapped, and
 * the patch adds htons(0x100) (= 1), plus 1 more when the swapped value is at least htons(0xFEFF) (= 0xFFFE).
 */
function upstreamPatchedChecksum(networkOrder: number): number {
  const swapped = ((networkOrder & 0xff) << 8) | (networkOrder >>> 8);
  const patched = (swapped >= 0xfffe ? swapped + 2 : swapped + 1) & 0xffff;
  return ((patched & 0xff) << 8) | (patched >>> 8);
}

/** A 20-byte header with the given TTL and checksum bytes (other fields fixed). */
function header(ttl: number, checksum: number): Buffer {
  const packet = hex('45000054abcd40000001000 00af401020af40202'.replace(' ', ''));
  packet[8] = ttl;
  packet.writeUInt16BE(checksum, 10);
  return packet;
}

describe('RFC 1624 incremental checksum', () => {
  const vectors = [
    // RFC 1624 §4: m 0x5555 → 0x3285 with the rest summing to 0xCD7A; eq. 3 gives 0x0000 (eq. 2 wrongly 0xFFFF).
    { name: 'RFC 1624 section 4 example', checksum: 0xdd2f, oldWord: 0x5555, newWord: 0x3285, expected: 0x0000 },
    { name: 'no change keeps the checksum', checksum: 0x1234, oldWord: 0xabcd, newWord: 0xabcd, expected: 0x1234 },
    { name: 'TTL 64 → 63, UDP (RFC 1071 example header b861 → b961)', checksum: 0xb861, oldWord: 0x4011, newWord: 0x3f11, expected: 0xb961 },
  ];
  for (const vector of vectors) {
    it(vector.name, () => assert.equal(incrementalChecksum(vector.checksum, vector.oldWord, vector.newWord), vector.expected));
  }

  it('agrees with recomputing the checksum for any header and any word change', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 20, maxLength: 20 }), fc.integer({ min: 0, max: 9 }), fc.integer({ min: 0, max: 0xffff }), (bytes, word, value) => {
      if (word === 5) return; // the checksum word itself
      const packet = Buffer.from(bytes);
      packet.writeUInt16BE(0, 10);
      packet.writeUInt16BE(internetChecksum(packet, 0, 20), 10);
      const before = packet.readUInt16BE(word * 2);
      packet.writeUInt16BE(value, word * 2);
      const patched = incrementalChecksum(packet.readUInt16BE(10), before, value);
      packet.writeUInt16BE(patched, 10);
      assert.equal(internetChecksum(packet, 0, 20), 0, 'the patched header verifies');
    }));
  });
});

describe('TTL decrement', () => {
  it('patches the checksum exactly as upstream does, for every checksum value', () => {
    for (let checksum = 0; checksum <= 0xffff; checksum++) {
      const packet = header(64, checksum);
      assert.equal(decrementTtl(packet, 0), true);
      const got = packet.readUInt16BE(10);
      if (got !== upstreamPatchedChecksum(checksum)) assert.fail(`checksum ${checksum.toString(16)}: ours ${got.toString(16)}, upstream ${upstreamPatchedChecksum(checksum).toString(16)}`);
    }
  });

  const cases = [
    { name: 'RFC 1071 example header, TTL 64', packet: '4500007300004000 4011 b861 c0a80001c0a800c7', ttl: 63, checksum: 0xb961 },
    { name: 'carry past 0xFFFF wraps around (0xFFFF → 0x0100)', packet: '4500007300004000 4011 ffff c0a80001c0a800c7', ttl: 63, checksum: 0x0100 },
    { name: '0xFEFF becomes 0x0000 (RFC 1624 eq. 3, as upstream)', packet: '4500007300004000 4011 feff c0a80001c0a800c7', ttl: 63, checksum: 0x0000 },
    { name: 'TTL 2 → 1 is still forwarded', packet: '4500007300004000 0211 b861 c0a80001c0a800c7', ttl: 1, checksum: 0xb961 },
  ];
  for (const { name, packet, ttl, checksum } of cases) {
    it(name, () => {
      const bytes = hex(packet);
      assert.equal(decrementTtl(bytes, 0), true);
      assert.equal(bytes[8], ttl);
      assert.equal(bytes.readUInt16BE(10), checksum);
    });
  }

  it('keeps a valid header valid (any header, any TTL above 1)', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 20, maxLength: 20 }), fc.integer({ min: 2, max: 255 }), (bytes, ttl) => {
      const packet = Buffer.from(bytes);
      packet[8] = ttl;
      packet.writeUInt16BE(0, 10);
      packet.writeUInt16BE(internetChecksum(packet, 0, 20), 10);
      assert.equal(decrementTtl(packet, 0), true);
      assert.equal(packet[8], ttl - 1);
      assert.equal(internetChecksum(packet, 0, 20), 0);
    }));
  });

  for (const ttl of [0, 1]) {
    it(`drops a packet arriving with TTL ${ttl} and leaves it untouched (upstream would turn 0 into 255)`, () => {
      const packet = header(ttl, 0x1234);
      const before = Buffer.from(packet);
      assert.equal(decrementTtl(packet, 0), false);
      assert.deepEqual(packet, before);
    });
  }

  it('works at an offset inside a larger buffer', () => {
    const buffer = Buffer.concat([Buffer.alloc(7, 0xee), hex('4500007300004000 4011 b861 c0a80001c0a800c7')]);
    assert.equal(decrementTtl(buffer, 7), true);
    assert.equal(buffer.readUInt16BE(7 + 10), 0xb961);
    assert.equal(buffer[6], 0xee);
  });
});

describe('IPv4 checks', () => {
  const good = '4500001c00000000401100000a0000010a000002 0000000000000000';
  const cases: Array<{ name: string; packet: string; length?: number; problem: PacketProblem }> = [
    { name: 'a plain header passes', packet: good, problem: PacketProblem.None },
    { name: '19 bytes is a runt', packet: good.replace(/\s/g, '').slice(0, 38), problem: PacketProblem.Runt },
    { name: 'an empty read is a runt', packet: '', problem: PacketProblem.Runt },
    { name: 'IPv6 is not IPv4', packet: '6000000000083a40fe800000000000000000000000000001ff02000000000000000000000000000285000000', problem: PacketProblem.NotIpv4 },
    { name: 'IHL 4 is too short', packet: good.replace(/^45/, '44'), problem: PacketProblem.BadHeaderLength },
    { name: 'IHL 6 beyond a 20-byte packet', packet: good.replace(/\s/g, '').slice(0, 40).replace(/^45/, '46'), problem: PacketProblem.BadHeaderLength },
    { name: 'IHL 6 with its options present', packet: good.replace(/^45/, '46'), problem: PacketProblem.None },
  ];
  for (const { name, packet, problem } of cases) {
    it(name, () => {
      const bytes = hex(packet);
      assert.equal(checkIpv4(bytes, 0, bytes.length), problem);
    });
  }
});

describe('ICMP net unreachable', () => {
  const tunAddress = 0x0af40100; // 10.244.1.0
  // UDP 10.244.1.2:40000 → 10.244.9.9:53, TTL 64, id 0x1234, DF, payload "abcd" (bytes from an independent encoder).
  const offender = '4500002012344000401108a70af401020af409099c400035000c000061626364';

  it('is built byte for byte as upstream builds it', () => {
    const packet = hex(offender);
    const out = Buffer.alloc(128, 0xaa);
    const length = buildNetUnreachable(packet, 0, packet.length, tunAddress, out);
    assert.equal(out.subarray(0, length).toString('hex'),
      '450000380000000008019adc0af401000af40102' + // IPv4: 56 bytes, TTL 8, ICMP, from our TUN address to the offender
      '0300607e00000000' + // type 3 code 0, checksum, unused
      '4500002012344000401108a70af401020af409099c400035000c0000'); // offender header + first 8 bytes
    assert.equal(internetChecksum(out, 0, 20), 0);
    assert.equal(internetChecksum(out, 20, length - 20), 0);
  });

  it('quotes the offender from its offset in a batch buffer', () => {
    const packet = Buffer.concat([Buffer.alloc(2048, 0x11), hex(offender)]);
    const out = Buffer.alloc(128);
    const length = buildNetUnreachable(packet, 2048, 32, tunAddress, out);
    assert.equal(out.subarray(28, length).toString('hex'), offender.slice(0, 56));
  });

  it('zero-pads an offender shorter than its header + 8 bytes', () => {
    const packet = hex(offender).subarray(0, 24);
    const out = Buffer.alloc(128, 0xaa);
    const length = buildNetUnreachable(packet, 0, packet.length, tunAddress, out);
    assert.equal(length, 56);
    assert.equal(out.subarray(48, 56).toString('hex'), '9c40003500000000');
    assert.equal(internetChecksum(out, 20, length - 20), 0);
  });

  it('quotes IP options with the header (IHL 6)', () => {
    const packet = hex('46000024123440004011 0000 0af401020af40909 01010101 9c400035000c000061626364');
    const out = Buffer.alloc(128);
    const length = buildNetUnreachable(packet, 0, packet.length, tunAddress, out);
    assert.equal(length, 20 + 8 + 24 + 8);
    assert.equal(out.subarray(28, length).toString('hex'), packet.subarray(0, 32).toString('hex'));
  });

  const none = [
    { name: 'not for an ICMP offender', change: (packet: Buffer) => (packet[9] = 1) },
    { name: 'not for a non-first fragment', change: (packet: Buffer) => packet.writeUInt16BE(0x0001, 6) },
    { name: 'not for a non-first fragment with MF set', change: (packet: Buffer) => packet.writeUInt16BE(0x20b9, 6) },
    { name: 'not for a 60-byte header (upstream refuses IHL 15)', change: (packet: Buffer) => (packet[0] = 0x4f) },
  ];
  for (const { name, change } of none) {
    it(name, () => {
      const packet = Buffer.concat([hex(offender), Buffer.alloc(64)]);
      change(packet);
      assert.equal(buildNetUnreachable(packet, 0, packet.length, tunAddress, Buffer.alloc(128)), 0);
    });
  }

  it('is sent for a first fragment with more fragments to come', () => {
    const packet = hex(offender);
    packet.writeUInt16BE(0x2000, 6);
    assert.equal(buildNetUnreachable(packet, 0, packet.length, tunAddress, Buffer.alloc(128)), 56);
  });
});
