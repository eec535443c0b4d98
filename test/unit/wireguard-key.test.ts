import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WireguardKey } from '../../src/backend/wireguard/wireguard-key.js';

/** [private, public] pairs printed by `wg genkey | tee /dev/stderr | wg pubkey` (wireguard-tools 1.0.20210914). */
const WG_VECTORS: ReadonlyArray<[string, string]> = [
  ['+CHdOG05ooiJljSeZ6j2CPw+SG4mctyTHFuvoJ/YuWk=', 'qBAi3u3tM9Vg8Hk/mKpRyNxjS5f6pZjlPtSDyo0NLSM='],
  ['2DBDcOBVRXEGU2McPQvx63tz2mCWfawK2LMBtNpnlno=', '39ER3qwOujYZ1aqOuGQi1ygSh2feLEqvMEc/5UgqwSU='],
  ['sAS+SK/hIzjFT9yWfih/9638WPy6KTUzD9UV955VOmM=', 'MHvMg8vCxGM3dQSLKtXS9kIVnf8UnFciaWZHS/Ht63Q='],
  ['6NF6xDVlTS5K965gmmwRpJn7DaNgwRSH+CWvSRtapGA=', 'u70T3IAJT2QOL31e23tNUzNKWE5m898u3eQfpPBfg2c='],
  // Bytes 0..31, not clamped: `wg pubkey` clamps inside the scalar multiplication, and so does X25519.
  ['AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=', 'j0DFrbaPJWJK5bIU6nZ6bslNgp09e14a0bpvPiE4KF8='],
];

describe('WireguardKey', () => {
  for (const [privateText, publicText] of WG_VECTORS) {
    it(`derives wg pubkey's public key for ${privateText.slice(0, 8)}…`, () => {
      assert.equal(WireguardKey.parse(privateText).publicKey().toString(), publicText);
    });
  }
  it('generates clamped private keys from the random source (as wg genkey)', () => {
    const key = WireguardKey.generatePrivate((size) => Buffer.from(Array.from({ length: size }, (_, index) => index)));
    assert.equal(key.toString(), 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHl8=');
    assert.equal(key.publicKey().toString(), 'j0DFrbaPJWJK5bIU6nZ6bslNgp09e14a0bpvPiE4KF8=', 'clamping does not change the public key');
    const fresh = WireguardKey.generatePrivate();
    const bytes = fresh.toBytes();
    assert.equal((bytes[0] ?? 1) & 7, 0);
    assert.equal((bytes[31] ?? 0) & 0xc0, 0x40);
  });
  it('parses like wgtypes.ParseKey: CR/LF skipped, strict base64, exactly 32 bytes', () => {
    const text = WG_VECTORS[0]?.[0] ?? '';
    assert.equal(WireguardKey.parse(`${text}\n`).toString(), text, 'a file written by wg genkey ends with a newline');
    assert.equal(WireguardKey.parse(`${text.slice(0, 20)}\r\n${text.slice(20)}`).toString(), text);
    const cases: Array<[string, RegExp]> = [
      ['', /empty/],
      ['\n', /empty/],
      [` ${text}`, /not base64/],
      [text.slice(0, 43), /not base64/],
      [text.replace('=', ''), /not base64/],
      ['AAAA', /incorrect key size: 3 bytes/],
      [Buffer.alloc(33).toString('base64'), /incorrect key size: 33 bytes/],
      [text.replace('+', '-'), /not base64/],
    ];
    for (const [input, reason] of cases) {
      const result = WireguardKey.tryParse(input);
      assert.equal(typeof result, 'string', JSON.stringify(input));
      assert.match(String(result), reason, JSON.stringify(input));
    }
    assert.throws(() => WireguardKey.parse('AAAA', 'psk'), /could not parse psk: incorrect key size/);
  });
  it('speaks hex for the UAPI and never serialises itself to JSON', () => {
    const key = WireguardKey.parse(WG_VECTORS[1]?.[0] ?? '');
    assert.equal(WireguardKey.tryFromHex(key.toHex())?.toString(), key.toString());
    assert.equal(WireguardKey.tryFromHex('zz'.repeat(32)), undefined);
    assert.equal(WireguardKey.tryFromHex('00'.repeat(31)), undefined);
    assert.equal(JSON.stringify({ key }), '{"key":{}}', 'a logged private key prints nothing');
    assert.ok(WireguardKey.ZERO.isZero());
    assert.ok(!key.isZero());
    assert.ok(key.equals(WireguardKey.fromBytes(key.toBytes())));
    assert.ok(!key.equals(undefined));
  });
});
