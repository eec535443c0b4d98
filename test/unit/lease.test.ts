import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeLeaseAttrs, encodeLeaseAttrs } from '../../src/lease/lease.js';
import { makeSubnetKey, parseSubnetKey } from '../../src/lease/subnet-key.js';
import { Cidr, IpAddress } from '../../src/net/ip.js';

describe('lease value JSON (byte-compatible with upstream)', () => {
  it('encodes the minimal upstream literal', () => {
    assert.equal(encodeLeaseAttrs({ publicIP: IpAddress.parse('1.2.3.4'), backendType: '' }), '{"PublicIP":"1.2.3.4","PublicIPv6":null}');
  });
  it('encodes the documented vxlan literal', () => {
    const text = '{"PublicIP":"192.168.64.3","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"c6:d2:32:6f:8f:44"}}';
    assert.equal(encodeLeaseAttrs(decodeLeaseAttrs(text)), text);
  });
  it('encodes dual stack', () => {
    const attrs = { publicIP: IpAddress.parse('198.18.0.11'), publicIPv6: IpAddress.parse('fd00::11'), backendType: 'host-gw' };
    assert.equal(encodeLeaseAttrs(attrs), '{"PublicIP":"198.18.0.11","PublicIPv6":"fd00::11","BackendType":"host-gw"}');
  });
  it('decodes case-insensitively, compacting BackendData', () => {
    const attrs = decodeLeaseAttrs('{"publicip":"10.0.0.1", "backendtype":"host-gw", "backenddata": { "a" : 1 }}');
    assert.equal(encodeLeaseAttrs(attrs), '{"PublicIP":"10.0.0.1","PublicIPv6":null,"BackendType":"host-gw","BackendData":{"a":1}}');
  });
  for (const [text, pattern] of [
    ['garbage', /not JSON/],
    ['[1]', /must be a JSON object/],
    ['{"PublicIP":"fd00::1"}', /PublicIP: invalid IPv4 address "fd00::1"/],
    ['{"PublicIP":"1.2.3.4","BackendType":7}', /BackendType: expected a string, got 7/],
  ] as const) {
    it(`rejects ${text}`, () => assert.throws(() => decodeLeaseAttrs(text), pattern));
  }
});

describe('subnet keys', () => {
  it('makes v4 and dual keys', () => {
    assert.equal(makeSubnetKey(Cidr.parse('10.1.5.0/24')), '10.1.5.0-24');
    assert.equal(makeSubnetKey(Cidr.parse('10.12.13.0/24'), Cidr.parse('fd00:12:13::/56')), '10.12.13.0-24&fd00:12:13::-56');
  });
  it('parses full etcd keys and dual keys', () => {
    assert.equal(parseSubnetKey('/coreos.com/network/subnets/10.1.5.0-24')?.subnet.toString(), '10.1.5.0/24');
    const dual = parseSubnetKey('10.12.13.0-24&fd00:12:13::-56');
    assert.equal(dual?.ipv6Subnet?.toString(), 'fd00:12:13::/56');
  });
  for (const bad of ['10.1.5.0-32', '10.1.5.0', 'garbage', '10.1.5.0-24&FD00::-64', '300.1.5.0-24']) {
    it(`skips ${bad}`, () => assert.equal(parseSubnetKey(bad), undefined));
  }
});
