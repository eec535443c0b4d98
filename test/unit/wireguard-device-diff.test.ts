import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryWireguardControl } from '../../src/backend/wireguard/memory-wireguard-control.js';
import { SESSION_LIFETIME_MS, diffWireguardDevice } from '../../src/backend/wireguard/wireguard-device-diff.js';
import type { DesiredWireguardPeer } from '../../src/backend/wireguard/wireguard-desired.js';
import { WireguardKey } from '../../src/backend/wireguard/wireguard-key.js';
import { Cidr, IpAddress } from '../../src/net/ip.js';

const privateKey = WireguardKey.parse('+CHdOG05ooiJljSeZ6j2CPw+SG4mctyTHFuvoJ/YuWk=');
const peerA = WireguardKey.parse('39ER3qwOujYZ1aqOuGQi1ygSh2feLEqvMEc/5UgqwSU=');
const peerB = WireguardKey.parse('MHvMg8vCxGM3dQSLKtXS9kIVnf8UnFciaWZHS/Ht63Q=');
const stranger = WireguardKey.parse('u70T3IAJT2QOL31e23tNUzNKWE5m898u3eQfpPBfg2c=');
const psk = WireguardKey.parse('j0DFrbaPJWJK5bIU6nZ6bslNgp09e14a0bpvPiE4KF8=');
const device = { name: 'flannel-wg', listenPort: 51820, privateKey };
const NOW = 1_700_000_000_000;

function desired(key: WireguardKey, subnet: string, ip: string, extra: Partial<DesiredWireguardPeer> = {}): DesiredWireguardPeer {
  return { linkName: 'flannel-wg', publicKey: key, endpoint: { ip: IpAddress.parse(ip), port: 51820 }, persistentKeepaliveSeconds: 0, allowedIps: [Cidr.parse(subnet)], ...extra };
}

/** Applies diffs until none is left; returns how many passes changed something (a converging diff needs one). */
async function converge(control: MemoryWireguardControl, peers: DesiredWireguardPeer[], settled?: Set<string>): Promise<number> {
  for (let pass = 0; pass < 5; pass++) {
    const observed = await control.getDevice('flannel-wg');
    assert.ok(observed);
    const diff = diffWireguardDevice(device, peers, observed, { nowMs: NOW, ...(settled ? { settledPeers: settled } : {}) });
    if (!diff) return pass;
    await control.configureDevice('flannel-wg', diff.change);
  }
  assert.fail('the diff does not converge');
}

describe('wireguard device diff', () => {
  it('a fresh device gets key, port and peers in one change, then nothing more', async () => {
    const control = new MemoryWireguardControl();
    control.createDevice('flannel-wg', 40123);
    const peers = [desired(peerA, '10.244.2.0/24', '198.18.0.12', { presharedKey: psk, persistentKeepaliveSeconds: 25 }), desired(peerB, '10.244.3.0/24', '198.18.0.13')];
    const first = diffWireguardDevice(device, peers, (await control.getDevice('flannel-wg'))!, { nowMs: NOW });
    assert.deepEqual(first?.differences.map((line) => line.replace(/peer \S+/, 'peer K')), [
      'flannel-wg: private key not set', 'flannel-wg: listen port 40123, want 51820', 'flannel-wg: peer K missing', 'flannel-wg: peer K missing',
    ]);
    assert.equal(await converge(control, peers), 1);
    const state = await control.getDevice('flannel-wg');
    assert.equal(state?.publicKey?.toString(), 'qBAi3u3tM9Vg8Hk/mKpRyNxjS5f6pZjlPtSDyo0NLSM=');
    assert.deepEqual(state?.peers.map((p) => [p.publicKey.toString().slice(0, 6), p.allowedIps.join(), p.persistentKeepaliveSeconds, p.presharedKey?.equals(psk) ?? false]),
      [['39ER3q', '10.244.2.0/24', 25, true], ['MHvMg8', '10.244.3.0/24', 0, false]]);
  });
  it('repairs drift: removed peer, foreign peer, changed allowed IPs, PSK, keepalive, endpoint', async () => {
    const control = new MemoryWireguardControl();
    control.createDevice('flannel-wg');
    const peers = [desired(peerA, '10.244.2.0/24', '198.18.0.12', { presharedKey: psk }), desired(peerB, '10.244.3.0/24', '198.18.0.13')];
    await converge(control, peers);
    await control.configureDevice('flannel-wg', {
      peers: [
        { publicKey: peerA, remove: true },
        { publicKey: stranger, allowedIps: [Cidr.parse('10.244.3.0/24')], endpoint: { ip: IpAddress.parse('192.0.2.9'), port: 1 } },
      ],
    });
    await control.configureDevice('flannel-wg', { peers: [{ publicKey: peerB, persistentKeepaliveSeconds: 9, presharedKey: psk, endpoint: { ip: IpAddress.parse('192.0.2.10'), port: 2 } }] });
    const drifted = diffWireguardDevice(device, peers, (await control.getDevice('flannel-wg'))!, { nowMs: NOW });
    assert.deepEqual(drifted?.differences.map((line) => line.replace(/peer (\S{6})\S+/, 'peer $1')), [
      'flannel-wg: peer 39ER3q missing',
      'flannel-wg: peer MHvMg8 allowed IPs (none), want 10.244.3.0/24',
      'flannel-wg: peer MHvMg8 preshared key differs',
      'flannel-wg: peer MHvMg8 keepalive 9, want 0',
      'flannel-wg: peer MHvMg8 endpoint 192.0.2.10:2, want 198.18.0.13:51820',
      'flannel-wg: peer u70T3I not wanted',
    ]);
    assert.equal(await converge(control, peers), 1);
    const state = await control.getDevice('flannel-wg');
    assert.deepEqual(state?.peers.map((p) => `${p.publicKey.toString().slice(0, 6)} ${p.allowedIps.join()} ${p.endpoint?.ip}:${p.endpoint?.port} psk=${p.presharedKey !== undefined}`).sort(),
      ['39ER3q 10.244.2.0/24 198.18.0.12:51820 psk=true', 'MHvMg8 10.244.3.0/24 198.18.0.13:51820 psk=false']);
  });
  it('allowed IPs compare as sets, masked', async () => {
    const control = new MemoryWireguardControl();
    control.createDevice('flannel-wg');
    const peers = [desired(peerA, '10.244.2.0/24', '198.18.0.12', { allowedIps: [Cidr.parse('10.244.2.0/24'), Cidr.parse('fd00:10:244:2::/64')] })];
    await converge(control, peers);
    const reordered = [desired(peerA, '10.244.2.0/24', '198.18.0.12', { allowedIps: [Cidr.parse('fd00:10:244:2::5/64'), Cidr.parse('10.244.2.0/24')] })];
    assert.equal(diffWireguardDevice(device, reordered, (await control.getDevice('flannel-wg'))!, { nowMs: NOW }), undefined);
  });
  it('tolerates a roamed endpoint of a settled peer with a live session, and only then', async () => {
    const control = new MemoryWireguardControl();
    control.createDevice('flannel-wg');
    const peers = [desired(peerA, '10.244.2.0/24', '198.18.0.12')];
    await converge(control, peers);
    const roamedTo = { ip: IpAddress.parse('203.0.113.7'), port: 31000 };
    control.recordHandshake('flannel-wg', peerA, NOW - 10_000, roamedTo);
    const settled = new Set([peerA.toHex()]);
    const observed = (await control.getDevice('flannel-wg'))!;
    assert.equal(diffWireguardDevice(device, peers, observed, { nowMs: NOW, settledPeers: settled }), undefined, 'live session on the roamed endpoint');
    assert.ok(diffWireguardDevice(device, peers, observed, { nowMs: NOW }), 'not settled: the lease endpoint changed, set it');
    assert.ok(diffWireguardDevice(device, peers, observed, { nowMs: NOW + SESSION_LIFETIME_MS, settledPeers: settled }), 'session dead: back to the lease endpoint');
    // A roamed peer whose allowed IPs drifted is repaired without touching its endpoint.
    await control.configureDevice('flannel-wg', { peers: [{ publicKey: peerA, replaceAllowedIps: true, allowedIps: [] }] });
    const diff = diffWireguardDevice(device, peers, (await control.getDevice('flannel-wg'))!, { nowMs: NOW, settledPeers: settled });
    assert.equal(diff?.change.peers?.[0]?.endpoint, undefined);
    assert.deepEqual(diff?.change.peers?.[0]?.allowedIps?.map(String), ['10.244.2.0/24']);
  });
  it('a wrong private key or port is set again; another device is untouched', async () => {
    const control = new MemoryWireguardControl();
    control.createDevice('flannel-wg');
    control.createDevice('wg0', 7000);
    await converge(control, []);
    await control.configureDevice('flannel-wg', { privateKey: peerA, listenPort: 1 });
    assert.deepEqual(diffWireguardDevice(device, [], (await control.getDevice('flannel-wg'))!, { nowMs: NOW })?.differences,
      ['flannel-wg: private key differs', 'flannel-wg: listen port 1, want 51820']);
    assert.equal(await converge(control, []), 1);
    assert.deepEqual((await control.getDevice('wg0'))?.listenPort, 7000);
  });
});
