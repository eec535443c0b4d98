import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backendConfigProblems, backendFactory } from '../../src/backend/backends.js';
import { config } from '../support/fixtures.js';

describe('backend registry', () => {
  it('refuses ipsec and cloud backends with the reason, at config check and at start', () => {
    assert.deepEqual(backendConfigProblems(config({ Backend: { Type: 'ipsec', PSK: 'x'.repeat(96) } })),
      ['Backend.Type: backend type "ipsec" is not supported by flannel-ts: it needs strongSwan\'s charon and IKE; use "wireguard" for encryption between hosts']);
    assert.match(backendConfigProblems(config({ Backend: { Type: 'tencent-vpc' } })).join(), /"tencent-vpc" is not supported by flannel-ts: it programs a cloud provider's route table/);
    assert.throws(() => backendFactory('IPsec'), { code: 'NOT_SUPPORTED', message: /needs strongSwan/ });
  });
  it('checks the options of wireguard, ipip and extension', () => {
    assert.deepEqual(backendConfigProblems(config({ Backend: { Type: 'wireguard', Mode: 'both', ListenPort: 0 } })).slice(0, 2), [
      'Backend.ListenPort: expected an integer in 1..65535 (0 would let the kernel pick a random port peers cannot know), got 0',
      'Backend.Mode: no valid Mode configured: got "both", expected one of separate, auto, ipv4, ipv6',
    ]);
    assert.match(backendConfigProblems(config({ Backend: { Type: 'ipip', DirectRouting: 1 } })).join('\n'), /^Backend\.DirectRouting: expected true or false, got 1$/m);
    assert.match(backendConfigProblems(config({ Backend: { Type: 'extension', SubnetAddCommand: [] } })).join('\n'), /^Backend\.SubnetAddCommand: expected a command line \(a string\), got \[\]$/m);
  });
  it('accepts exactly the backends that work: wireguard, ipip and extension with good options pass the check and have factories', () => {
    const good: Array<[string, Record<string, unknown>, Record<string, unknown>?]> = [
      ['vxlan', {}], ['host-gw', {}], ['alloc', {}],
      ['wireguard', { Mode: 'separate', PSK: 'u70T3IAJT2QOL31e23tNUzNKWE5m898u3eQfpPBfg2c=', Implementation: 'userspace' }, { EnableIPv6: true, IPv6Network: 'fd00:10:244::/56' }],
      ['ipip', { DirectRouting: true }], ['extension', { SubnetAddCommand: 'ip route replace $SUBNET via $PUBLIC_IP' }],
    ];
    for (const [type, backend, extra] of good) {
      assert.deepEqual(backendConfigProblems(config({ Backend: { Type: type, ...backend }, ...extra })), [], type);
      assert.equal(typeof backendFactory(type.toUpperCase()), 'function', type);
    }
    assert.deepEqual(backendConfigProblems(config({ Backend: { Type: 'ipip' }, EnableIPv6: true, IPv6Network: 'fd00:10:244::/56' })),
      ['Backend.Type: ipip carries IPv4 only; EnableIPv6 needs another backend (vxlan, host-gw or wireguard)']);
  });
});
