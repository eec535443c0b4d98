import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Cidr, IpAddress } from '../../src/net/ip.js';
import { MacAddress } from '../../src/net/mac.js';

describe('IpAddress', () => {
  for (const [text, canonical] of [
    ['10.1.2.3', '10.1.2.3'],
    ['0.0.0.0', '0.0.0.0'],
    ['fd00:10:244::', 'fd00:10:244::'],
    ['FD00:0:0:1:0:0:0:1', 'fd00:0:0:1::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['::', '::'],
    ['::1', '::1'],
    ['::ffff:1.2.3.4', '::ffff:102:304'],
    ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
  ]) {
    it(`parses ${text} and prints ${canonical}`, () => assert.equal(IpAddress.parse(text as string).toString(), canonical));
  }
  for (const bad of ['1.2.3', '1.2.3.256', '01.2.3.4', '1::2::3', '1:2:3:4:5:6:7:8:9', 'abc', '', ':::']) {
    it(`rejects ${JSON.stringify(bad)}`, () => assert.equal(IpAddress.tryParse(bad), undefined));
  }
  it('round-trips bytes', () => {
    for (const text of ['198.18.0.11', 'fd00::abcd']) assert.equal(IpAddress.fromBytes(IpAddress.parse(text).toBytes()).toString(), text);
  });
});

describe('Cidr', () => {
  it('masks, contains, overlaps, next', () => {
    const cidr = Cidr.parse('10.3.1.5/16');
    assert.equal(cidr.masked().toString(), '10.3.0.0/16');
    assert.ok(cidr.contains(IpAddress.parse('10.3.255.1')));
    assert.ok(!cidr.contains(IpAddress.parse('10.4.0.1')));
    assert.ok(Cidr.parse('10.3.0.0/16').overlaps(Cidr.parse('10.3.7.0/24')));
    assert.ok(!Cidr.parse('10.3.0.0/24').overlaps(Cidr.parse('10.3.1.0/24')));
    assert.equal(Cidr.parse('10.3.0.0/16').next().toString(), '10.4.0.0/16');
    assert.equal(Cidr.parse('fd00::/56').size, 1n << 72n);
  });
  it('rejects bad prefixes', () => {
    assert.equal(Cidr.tryParse('10.0.0.0/33'), undefined);
    assert.equal(Cidr.tryParse('10.0.0.0'), undefined);
    assert.equal(Cidr.tryParse('fd00::/129'), undefined);
  });
});

describe('MacAddress', () => {
  it('random MACs are locally administered unicast', () => {
    const mac = MacAddress.random(() => new Uint8Array([0xff, 1, 2, 3, 4, 5]));
    assert.equal(mac.toString(), 'fe:01:02:03:04:05');
  });
  it('parses and prints lower case', () => assert.equal(MacAddress.parse('C6:D2:32:6F:8F:44').toString(), 'c6:d2:32:6f:8f:44'));
  const vectors: ReadonlyArray<[string, number[]]> = [
    ['00:00:00:00:00:00', [0, 0, 0, 0, 0, 0]],
    ['00:00:00:00:00:01', [0, 0, 0, 0, 0, 1]],
    ['0a:58:c6:12:00:0c', [0x0a, 0x58, 0xc6, 0x12, 0x00, 0x0c]],
    ['ff:ff:ff:ff:ff:ff', [0xff, 0xff, 0xff, 0xff, 0xff, 0xff]],
    ['80:00:00:00:00:00', [0x80, 0, 0, 0, 0, 0]],
  ];
  for (const [text, bytes] of vectors) {
    it(`${text}: text ↔ bytes, equality`, () => {
      const parsed = MacAddress.parse(text);
      const decoded = MacAddress.fromBytes(new Uint8Array(bytes));
      assert.equal(parsed.toString(), text);
      assert.equal(decoded.toString(), text);
      assert.deepEqual([...parsed.toBytes()], bytes);
      assert.ok(parsed.equals(decoded));
      assert.equal(JSON.stringify({ mac: decoded }), `{"mac":"${text}"}`);
    });
  }
  it('fromBytes reads a view at an offset, and differing MACs are not equal', () => {
    const frame = new Uint8Array([9, 9, 0x0a, 0x58, 0xc6, 0x12, 0x00, 0x0c, 9]);
    assert.equal(MacAddress.fromBytes(frame.subarray(2, 8)).toString(), '0a:58:c6:12:00:0c');
    assert.ok(!MacAddress.parse('0a:58:c6:12:00:0c').equals(MacAddress.parse('0a:58:c6:12:00:0d')));
    assert.ok(!MacAddress.parse('0a:58:c6:12:00:0c').equals(undefined));
    assert.throws(() => MacAddress.fromBytes(new Uint8Array(5)), /MAC address of 5 bytes/);
    assert.equal(MacAddress.tryParse('0a:58:c6:12:00'), undefined);
  });
});
