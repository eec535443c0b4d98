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
});
