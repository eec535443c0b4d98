import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { IpAddress } from '../../src/net/ip.js';
import { encodeLeaseAttrs } from '../../src/lease/lease.js';
import { goJson, goJsonString } from '../../src/support/go-json.js';

describe('Go JSON (encoding/json byte for byte)', () => {
  // Expected texts as Go 1.19's json.Marshal prints them (invalid UTF-8 there is a lone surrogate here).
  for (const [name, value, text] of [
    ['HTML characters and line separators', 'a<b>&c\u2028d\u2029', '"a\\u003cb\\u003e\\u0026c\\u2028d\\u2029"'],
    ['quotes, backslash, control characters', '"\\\u0001', '"\\"\\\\\\u0001"'],
    ['\\b and \\f as \\u escapes, the usual three short', '\b\f\n\r\t', '"\\u0008\\u000c\\n\\r\\t"'],
    ['a lone surrogate as the \\ufffd escape', 'lone \ud800 x \udc00', '"lone \\ufffd x \\ufffd"'],
    ['non-ASCII and astral characters as they are', 'é 😀', '"é 😀"'],
    ['struct fields in their order', { VNI: 1, VtepMAC: 'a<b', list: [1, 'x', null], nested: { ok: true }, gone: undefined }, '{"VNI":1,"VtepMAC":"a\\u003cb","list":[1,"x",null],"nested":{"ok":true}}'],
    ['scalars', [true, 1.5, null], '[true,1.5,null]'],
  ] as const) {
    it(name, () => assert.equal(goJson(value), text));
  }

  it('a map sorts its keys at every level, by UTF-8 bytes, integer-like keys included', () => {
    // UTF-16 order would put U+1F600 (the surrogate pair 0xD83D 0xDE00) before U+FF5E; UTF-8 order puts it after.
    assert.equal(goJson({ b: 1, a: { z: 1, '10': 2, '9': 3 }, '😀': 1, '～': 2 }, { sortKeys: true }),
      '{"a":{"10":2,"9":3,"z":1},"b":1,"～":2,"😀":1}');
  });

  it('goJsonString writes keys and values the same way', () => assert.equal(goJsonString('<'), '"\\u003c"'));

  it('a lease value carries its BackendData with Go\'s escaping, as upstream re-marshals it', () => {
    const attrs = { publicIP: IpAddress.parse('198.18.0.1'), backendType: 'extension', backendData: 'out<put>&\b' };
    assert.equal(encodeLeaseAttrs(attrs as Parameters<typeof encodeLeaseAttrs>[0]),
      '{"PublicIP":"198.18.0.1","PublicIPv6":null,"BackendType":"extension","BackendData":"out\\u003cput\\u003e\\u0026\\u0008"}');
  });
});
