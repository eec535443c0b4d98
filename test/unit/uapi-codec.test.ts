import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkUapiErrno, encodeUapiSet, parseEndpoint, parseUapiGet, uapiReplyComplete } from '../../src/adapters/wireguard/uapi-codec.js';
import { WireguardKey } from '../../src/backend/wireguard/wireguard-key.js';
import { Cidr, IpAddress } from '../../src/net/ip.js';

const privateKey = WireguardKey.parse('cOLJv3IBAHNucI16z32L5LBJ9ucbYHN8vxYx83eTfVU=');
const peer = WireguardKey.tryFromHex('9b5df494c974c494505b7e720fc586a099fdade68422477ce4d5472516242574')!;
const psk = WireguardKey.tryFromHex('cdb282e762eac8f05dd401f4e6d92cc6483def569f65b23096c648d240ccfe14')!;

/** A reply captured from wireguard-go 0.0.20220316 after `wg set` (then a second, bare peer added over UAPI). */
const CAPTURED_GET = 'private_key=70e2c9bf720100736e708d7acf7d8be4b049f6e71b60737cbf1631f377937d55\nlisten_port=51820\n' +
  'public_key=9b5df494c974c494505b7e720fc586a099fdade68422477ce4d5472516242574\npreshared_key=cdb282e762eac8f05dd401f4e6d92cc6483def569f65b23096c648d240ccfe14\n' +
  'protocol_version=1\nendpoint=198.18.0.2:51820\nlast_handshake_time_sec=0\nlast_handshake_time_nsec=0\ntx_bytes=0\nrx_bytes=0\n' +
  'persistent_keepalive_interval=25\nallowed_ip=10.1.0.0/24\nallowed_ip=fd00::/64\n' +
  'public_key=0000000000000000000000000000000000000000000000000000000000000002\npreshared_key=0000000000000000000000000000000000000000000000000000000000000000\n' +
  'protocol_version=1\nlast_handshake_time_sec=0\nlast_handshake_time_nsec=0\ntx_bytes=0\nrx_bytes=0\npersistent_keepalive_interval=0\nerrno=0\n\n';

describe('UAPI codec', () => {
  it('encodes a set request in the order wireguard-go reads it', () => {
    assert.equal(encodeUapiSet({
      privateKey, listenPort: 51820, fwmark: 0, replacePeers: true,
      peers: [
        { publicKey: peer, presharedKey: psk, endpoint: { ip: IpAddress.parse('fd00:198::12'), port: 51821 }, persistentKeepaliveSeconds: 25, replaceAllowedIps: true, allowedIps: [Cidr.parse('10.244.2.9/24'), Cidr.parse('fd00:10:244:2::/64')] },
        { publicKey: peer, updateOnly: true, presharedKey: null, endpoint: { ip: IpAddress.parse('198.18.0.12'), port: 1 } },
        { publicKey: peer, remove: true, allowedIps: [Cidr.parse('10.0.0.0/8')] },
      ],
    }), [
      'set=1',
      `private_key=${privateKey.toHex()}`, 'listen_port=51820', 'fwmark=0', 'replace_peers=true',
      `public_key=${peer.toHex()}`, `preshared_key=${psk.toHex()}`, 'endpoint=[fd00:198::12]:51821', 'persistent_keepalive_interval=25',
      'replace_allowed_ips=true', 'allowed_ip=10.244.2.0/24', 'allowed_ip=fd00:10:244:2::/64',
      `public_key=${peer.toHex()}`, 'update_only=true', `preshared_key=${'0'.repeat(64)}`, 'endpoint=198.18.0.12:1',
      `public_key=${peer.toHex()}`, 'remove=true',
      '', '',
    ].join('\n'));
    assert.equal(encodeUapiSet({}), 'set=1\n\n');
  });
  it('parses a captured get reply: derived public key, zero PSK as none, peers in order', () => {
    const state = parseUapiGet(CAPTURED_GET, 'wgp0');
    assert.equal(state.privateKey?.toString(), privateKey.toString());
    assert.equal(state.publicKey?.toString(), 'MrgrNAOGIuJ8VQkoDyoAw9s2cahIpXin0iLRVLT0JW8=', '= wg pubkey of the private key');
    assert.equal(state.listenPort, 51820);
    assert.deepEqual(state.peers.map((p) => [p.publicKey.toHex().slice(0, 4), p.presharedKey?.toHex().slice(0, 4), p.endpoint && `${p.endpoint.ip}:${p.endpoint.port}`, p.persistentKeepaliveSeconds, p.allowedIps.join(), p.lastHandshakeEpochMs]),
      [['9b5d', 'cdb2', '198.18.0.2:51820', 25, '10.1.0.0/24,fd00::/64', undefined], ['0000', undefined, undefined, 0, '', undefined]]);
    const fresh = parseUapiGet('listen_port=52106\nerrno=0\n\n', 'wgp0');
    assert.deepEqual([fresh.privateKey, fresh.listenPort, fresh.peers], [undefined, 52106, []]);
  });
  it('reads handshake time and counters; skips keys it does not know', () => {
    const state = parseUapiGet(`public_key=${peer.toHex()}\nlast_handshake_time_sec=1700000000\nlast_handshake_time_nsec=250000000\nrx_bytes=12345678901\ntx_bytes=7\nfuture_key=1\nerrno=0\n\n`, 'wg');
    assert.deepEqual([state.peers[0]?.lastHandshakeEpochMs, state.peers[0]?.rxBytes, state.peers[0]?.txBytes], [1_700_000_000_250, 12345678901n, 7n]);
  });
  it('turns errno= into FlannelErrors named for the errno', () => {
    const table: Array<[string, string | undefined]> = [
      ['errno=0\n\n', undefined], ['errno=-22\n\n', 'EINVAL'], ['errno=-98\n\n', 'EADDRINUSE'], ['errno=-71\n\n', 'EPROTO'], ['errno=-5\n\n', 'EIO'],
      ['errno=22\n\n', 'EINVAL'], ['garbage\n\n', 'EPROTO'], ['', 'EPROTO'],
    ];
    for (const [reply, code] of table) {
      if (code === undefined) assert.doesNotThrow(() => checkUapiErrno(reply, 'set'));
      else assert.throws(() => checkUapiErrno(reply, 'set'), { code }, JSON.stringify(reply));
    }
    assert.throws(() => parseUapiGet('errno=-22\n\n', 'wg0'), /wireguard device wg0: get: wireguard-go refused it: invalid argument/);
  });
  it('refuses malformed values instead of guessing', () => {
    for (const bad of ['listen_port=abc', 'private_key=zz', `public_key=${peer.toHex()}\nendpoint=nowhere`, `public_key=${peer.toHex()}\nallowed_ip=10.0.0.0/33`, 'novalue']) {
      assert.throws(() => parseUapiGet(`${bad}\nerrno=0\n\n`, 'wg0'), { code: 'EPROTO' }, bad);
    }
  });
  it('knows when a reply is complete', () => {
    assert.ok(uapiReplyComplete('errno=0\n\n'));
    assert.ok(uapiReplyComplete('listen_port=1\nerrno=0\n\n'));
    assert.ok(!uapiReplyComplete('listen_port=1\nerrno=0\n'));
    assert.ok(!uapiReplyComplete('listen_port=1\n\n'));
  });
  it('parses endpoints of both families (zones dropped) and refuses the rest', () => {
    assert.deepEqual(parseEndpoint('198.18.0.2:51820'), { ip: IpAddress.parse('198.18.0.2'), port: 51820 });
    assert.deepEqual(parseEndpoint('[fe80::1%eth0]:5'), { ip: IpAddress.parse('fe80::1'), port: 5 });
    for (const bad of ['198.18.0.2', '[198.18.0.2]:1', 'fd00::1:5', '1.2.3.4:65536', '[fd00::1]:']) assert.equal(parseEndpoint(bad), undefined, bad);
  });
});
