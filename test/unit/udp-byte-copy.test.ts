import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { LOOP_COPY_MAX_BYTES, copyBytes } from '../../src/backend/udp/byte-copy.js';

describe('copyBytes', () => {
  const cases = [
    { name: 'nothing', length: 0 },
    { name: 'one byte', length: 1 },
    { name: 'a ping (84 bytes)', length: 84 },
    { name: 'exactly the loop limit', length: LOOP_COPY_MAX_BYTES },
    { name: 'one past the loop limit (set)', length: LOOP_COPY_MAX_BYTES + 1 },
    { name: 'a full-sized packet (set)', length: 1472 },
  ];
  for (const { name, length } of cases) {
    it(`copies ${name} from an offset to an offset, touching nothing else`, () => {
      const source = Buffer.alloc(length + 20);
      for (let index = 0; index < source.length; index++) source[index] = (index * 7 + 3) & 0xff;
      const target = Buffer.alloc(length + 40, 0xee);
      assert.equal(copyBytes(source, 10, 10 + length, target, 15), length);
      assert.deepEqual(target.subarray(15, 15 + length), source.subarray(10, 10 + length));
      assert.ok(target.subarray(0, 15).every((byte) => byte === 0xee), 'bytes before the copy untouched');
      assert.ok(target.subarray(15 + length).every((byte) => byte === 0xee), 'bytes after the copy untouched');
    });
  }

  it('agrees with Buffer#copy for any range', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), fc.nat(), fc.nat(), fc.nat(40), (bytes, a, b, at) => {
      const start = bytes.length ? a % (bytes.length + 1) : 0;
      const end = start + (bytes.length ? b % (bytes.length - start + 1) : 0);
      const expected = Buffer.alloc(700, 1);
      const actual = Buffer.alloc(700, 1);
      Buffer.from(bytes).copy(expected, at, start, end);
      copyBytes(bytes, start, end, actual, at);
      assert.deepEqual(actual, expected);
    }));
  });
});
