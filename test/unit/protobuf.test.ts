import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ProtoMessage, ProtoWriter } from '../../src/adapters/etcd/protobuf.js';
import { prefixEnd } from '../../src/adapters/etcd/etcd-client.js';

describe('protobuf wire format', () => {
  it('encodes known bytes (tag, varint, length-delimited)', () => {
    // RangeRequest{key: "foo", range_end: "fop", limit: 1}
    const bytes = new ProtoWriter().bytes(1, 'foo').bytes(2, 'fop').varint(3, 1).toBuffer();
    assert.equal(bytes.toString('hex'), '0a03666f6f1203666f701801');
    assert.equal(new ProtoWriter().varint(1, 300).toBuffer().toString('hex'), '08ac02');
  });
  it('writes zero only when asked (oneof presence) and skips proto3 defaults otherwise', () => {
    assert.equal(new ProtoWriter().varint(4, 0).toBuffer().toString('hex'), '2000');
    assert.equal(new ProtoWriter().varintIfSet(4, 0n).toBuffer().length, 0);
  });
  it('round-trips nested messages, repeated fields and negative int64', () => {
    const bytes = new ProtoWriter()
      .message(1, (header) => header.varint(3, 123456789012345n))
      .message(2, (kv) => kv.bytes(1, 'a').bytes(5, 'x'))
      .message(2, (kv) => kv.bytes(1, 'b').varint(6, -1n))
      .toBuffer();
    const message = ProtoMessage.decode(bytes);
    assert.equal(message.message(1).int(3), 123456789012345n);
    assert.deepEqual(message.messages(2).map((kv) => kv.string(1)), ['a', 'b']);
    assert.equal(message.messages(2)[1]?.int(6), -1n);
    assert.equal(message.int(9), 0n, 'absent fields read as defaults');
  });
  it('property: any int64 and any bytes round-trip', () => {
    fc.assert(fc.property(fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }), fc.uint8Array({ maxLength: 300 }), (value, data) => {
      const message = ProtoMessage.decode(new ProtoWriter().varint(1, value).bytes(2, Buffer.from(data)).toBuffer());
      return message.int(1) === value && message.bytes(2).equals(Buffer.from(data));
    }));
  });
  it('rejects truncated input', () => {
    assert.throws(() => ProtoMessage.decode(Buffer.from('0a05666f', 'hex')), /truncated/);
  });
  it('prefixEnd is the next key after a prefix', () => {
    assert.equal(prefixEnd('/coreos.com/network/subnets/').toString(), '/coreos.com/network/subnets0');
    assert.equal(prefixEnd('ab').toString(), 'ac');
  });
});
