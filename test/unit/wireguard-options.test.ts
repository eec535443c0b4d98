import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { findExecutable, probeWireguardSupport } from '../../src/adapters/wireguard/wireguard-host-support.js';
import { chooseWireguardImplementation } from '../../src/backend/wireguard/wireguard-implementation.js';
import { decodeWireguardLeaseData, wireguardBackendData } from '../../src/backend/wireguard/wireguard-lease-data.js';
import { WireguardKey } from '../../src/backend/wireguard/wireguard-key.js';
import { checkWireguardConfig, parseWireguardOptions } from '../../src/backend/wireguard/wireguard-options.js';
import { config } from '../support/fixtures.js';

const PSK = 'sAS+SK/hIzjFT9yWfih/9638WPy6KTUzD9UV955VOmM=';
const wg = (backend: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) => config({ Backend: { Type: 'wireguard', ...backend }, ...extra });
const dual = { EnableIPv6: true, IPv6Network: 'fd00:10:244::/56' };

describe('wireguard options', () => {
  it("defaults as upstream (51820, 51821, separate, no PSK, keepalive 0) and Implementation auto", () => {
    assert.deepEqual(parseWireguardOptions({ Type: 'wireguard' }), {
      listenPort: 51820, listenPortV6: 51821, persistentKeepaliveSeconds: 0, mode: 'separate', implementation: 'auto',
    });
  });
  it('decodes keys case-insensitively; nulls mean the default as in Go', () => {
    const options = parseWireguardOptions({ listenport: 4000, LISTENPORTV6: 4001, mtu: 1400, psk: PSK, persistentkeepaliveinterval: 25, mode: 'auto', implementation: 'userspace', Type: null });
    assert.deepEqual({ ...options, psk: options.psk?.toString() }, {
      listenPort: 4000, listenPortV6: 4001, mtu: 1400, psk: PSK, persistentKeepaliveSeconds: 25, mode: 'auto', implementation: 'userspace',
    });
    assert.equal(parseWireguardOptions({ Mode: null, PSK: '' }).mode, 'separate');
  });
  it('reports every bad field with its value, and upstream wording where upstream has one', () => {
    const table: Array<[Record<string, unknown>, RegExp]> = [
      [{ Mode: 'Auto' }, /Backend\.Mode: no valid Mode configured: got "Auto"/],
      [{ Mode: 3 }, /Backend\.Mode: no valid Mode configured: got 3/],
      [{ PSK: 'short' }, /Backend\.PSK: could not parse psk: not base64/],
      [{ PSK: 'AAAA' }, /Backend\.PSK: could not parse psk: incorrect key size: 3 bytes/],
      [{ PSK: 7 }, /Backend\.PSK: expected a base64 key/],
      [{ ListenPort: 0 }, /Backend\.ListenPort: expected an integer in 1\.\.65535 \(0 would let the kernel pick a random port/],
      [{ ListenPortV6: 70000 }, /Backend\.ListenPortV6: .*got 70000/],
      [{ ListenPort: '51820' }, /Backend\.ListenPort: .*got "51820"/],
      [{ PersistentKeepaliveInterval: 25.5 }, /Backend\.PersistentKeepaliveInterval: expected an integer in 0\.\.65535 seconds, got 25\.5/],
      [{ PersistentKeepaliveInterval: -1 }, /Backend\.PersistentKeepaliveInterval: .*got -1/],
      [{ MTU: 100 }, /Backend\.MTU: expected an integer in 148\.\.65535, got 100/],
      [{ Implementation: 'go' }, /Backend\.Implementation: no valid Implementation configured: got "go", expected one of auto, kernel, userspace/],
    ];
    for (const [backend, expected] of table) assert.throws(() => parseWireguardOptions(backend), expected, JSON.stringify(backend));
    assert.throws(() => parseWireguardOptions({ Mode: 'x', ListenPort: -1 }), (error: Error) => /Mode/.test(error.message) && /ListenPort/.test(error.message));
    assert.doesNotMatch(checkWireguardConfig(wg({ PSK: `${PSK.slice(0, 40)}` })).join(), /sAS\+SK/, 'a bad PSK is never echoed');
  });
  it('checks what the kernel would refuse: one port for both separate devices, device MTUs below the minimum', () => {
    assert.deepEqual(checkWireguardConfig(wg({ ListenPort: 5000, ListenPortV6: 5000 }, dual)),
      ['Backend.ListenPortV6: 5000 is also ListenPort; in separate mode flannel-wg and flannel-wg-v6 each need a port of their own']);
    assert.deepEqual(checkWireguardConfig(wg({ ListenPort: 5000, ListenPortV6: 5000 })), [], 'IPv4 only: one device');
    assert.deepEqual(checkWireguardConfig(wg({ ListenPort: 5000, ListenPortV6: 5000, Mode: 'auto' }, dual)), [], 'one device in auto mode');
    assert.deepEqual(checkWireguardConfig(wg({ MTU: 1300 }, dual)),
      ["Backend.MTU: 1300 leaves 1220 for flannel-wg-v6, below IPv6's minimum of 1280 (MTU at least 1360)"]);
    assert.deepEqual(checkWireguardConfig(wg({ MTU: 1300, Mode: 'ipv4' }, dual)),
      ["Backend.MTU: 1300 leaves 1220 for flannel-wg, below IPv6's minimum of 1280 (MTU at least 1360)"], 'the single device carries IPv6');
    assert.deepEqual(checkWireguardConfig(wg({}), { name: 'eth0', mtu: 140 }), [
      "the MTU of eth0 (140) leaves 60 for flannel-wg, below the kernel's minimum of 68 (MTU at least 148)"]);
    assert.deepEqual(checkWireguardConfig(wg({}, dual), { name: 'eth0', mtu: 1500 }), []);
  });
});

describe('wireguard BackendData', () => {
  const key = WireguardKey.parse('qBAi3u3tM9Vg8Hk/mKpRyNxjS5f6pZjlPtSDyo0NLSM=');
  it("encodes upstream's bytes", () => {
    assert.equal(JSON.stringify(wireguardBackendData(key, 51820)), '{"PublicKey":"qBAi3u3tM9Vg8Hk/mKpRyNxjS5f6pZjlPtSDyo0NLSM=","Port":51820}');
  });
  it('decodes like Go into {PublicKey string; Port uint16}', () => {
    const ok = decodeWireguardLeaseData({ publickey: key.toString(), PORT: 4000, Extra: 1 }, 'BackendData');
    assert.ok('publicKey' in ok && ok.publicKey.equals(key) && ok.port === 4000);
    const old = decodeWireguardLeaseData({ PublicKey: key.toString() }, 'BackendData');
    assert.ok('port' in old && old.port === 0, 'leases before Port existed');
    const table: Array<[unknown, string]> = [
      ['x', 'BackendData "x": expected an object with PublicKey and Port'],
      [undefined, 'BackendData (none): expected an object with PublicKey and Port'],
      [{ Port: 1 }, 'BackendData.PublicKey (none): expected a base64 WireGuard public key'],
      [{ PublicKey: 'AAAA' }, 'BackendData.PublicKey "AAAA": incorrect key size: 3 bytes, expected 32'],
      [{ PublicKey: key.toString(), Port: 65536 }, 'BackendData.Port 65536: expected a UDP port (0..65535)'],
      [{ PublicKey: key.toString(), Port: '1' }, 'BackendData.Port "1": expected a UDP port (0..65535)'],
    ];
    for (const [value, expected] of table) {
      const problem = decodeWireguardLeaseData(value, 'BackendData');
      assert.ok('reason' in problem, JSON.stringify(value));
      assert.equal(`${problem.field} ${problem.value}: ${problem.reason}`, expected);
    }
  });
});

describe('wireguard implementation choice', () => {
  it('auto prefers the kernel, falls back to wireguard-go, and says what is missing', () => {
    assert.equal(chooseWireguardImplementation('auto', { kernel: true, userspaceCommand: '/usr/bin/wireguard-go' }), 'kernel');
    assert.equal(chooseWireguardImplementation('auto', { kernel: false, userspaceCommand: '/usr/bin/wireguard-go' }), 'userspace');
    assert.throws(() => chooseWireguardImplementation('auto', { kernel: false }), /no WireGuard implementation: this kernel has no WireGuard.*wireguard-go is not installed/);
  });
  it('a forced implementation is used or refused, never swapped', () => {
    assert.equal(chooseWireguardImplementation('userspace', { kernel: true, userspaceCommand: 'wireguard-go' }), 'userspace');
    assert.equal(chooseWireguardImplementation('kernel', { kernel: true }), 'kernel');
    assert.throws(() => chooseWireguardImplementation('kernel', { kernel: false, userspaceCommand: 'wireguard-go' }), /Backend\.Implementation is "kernel" but this kernel has no WireGuard/);
    assert.throws(() => chooseWireguardImplementation('userspace', { kernel: true }), /Backend\.Implementation is "userspace" but wireguard-go is not installed/);
  });
});

describe('wireguard host support probe', () => {
  it('finds wireguard-go on PATH or as given, and probes the kernel without failing', () => {
    assert.equal(findExecutable('sh', '/nonexistent:/bin'), '/bin/sh');
    assert.equal(findExecutable('/bin/sh', ''), '/bin/sh');
    assert.equal(findExecutable('no-such-binary-flannel', '/bin:/usr/bin'), undefined);
    assert.equal(findExecutable('/etc', ''), undefined, 'a directory is not a program');
    const support = probeWireguardSupport({ PATH: '/nonexistent', WG_QUICK_USERSPACE_IMPLEMENTATION: '/bin/true' });
    assert.equal(support.userspaceCommand, '/bin/true');
    assert.equal(typeof support.kernel, 'boolean');
  });
});
