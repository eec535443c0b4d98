import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryWireguardControl } from '../../src/backend/wireguard/memory-wireguard-control.js';
import type { WireguardDeviceState } from '../../src/backend/wireguard/wireguard-control.js';
import type { DesiredWireguardPeer } from '../../src/backend/wireguard/wireguard-desired.js';
import { handshakeKicks } from '../../src/backend/wireguard/wireguard-handshake-kick.js';
import { WireguardKey } from '../../src/backend/wireguard/wireguard-key.js';
import { Cidr, IpAddress } from '../../src/net/ip.js';

const key = (seed: number) => WireguardKey.generatePrivate(() => Buffer.alloc(32, seed)).publicKey();
const desired = (seed: number, keepalive: number, endpoint = true): DesiredWireguardPeer => ({
  linkName: 'flannel-wg', publicKey: key(seed), persistentKeepaliveSeconds: keepalive, allowedIps: [Cidr.parse(`10.244.${seed}.0/24`)],
  ...(endpoint ? { endpoint: { ip: IpAddress.parse(`198.18.0.${seed}`), port: 51820 } } : {}),
});
const observed = (handshaken: number[], present: number[]): WireguardDeviceState => ({
  name: 'flannel-wg', listenPort: 51820, fwmark: 0,
  peers: present.map((seed) => ({ publicKey: key(seed), persistentKeepaliveSeconds: 0, allowedIps: [], rxBytes: 0n, txBytes: 0n, ...(handshaken.includes(seed) ? { lastHandshakeEpochMs: 1 } : {}) })),
});

describe('handshake kicks', () => {
  it('kicks peers with an endpoint that never completed a handshake: keepalive off → on → configured value', () => {
    const table: Array<[string, DesiredWireguardPeer[], WireguardDeviceState, string[]]> = [
      ['new peer, no keepalive', [desired(1, 0)], observed([], []), ['1:1', '1:0']],
      ['new peer, keepalive 25', [desired(1, 25)], observed([], [1]), ['1:0', '1:25']],
      ['had a session: left to WireGuard', [desired(1, 0)], observed([1], [1]), []],
      ['no endpoint: nothing to send to', [desired(1, 0, false)], observed([], []), []],
      ['mixed', [desired(1, 0), desired(2, 0), desired(3, 0)], observed([2], [1, 2]), ['1:1', '1:0', '3:1', '3:0']],
    ];
    const seedOf = (text: string) => [1, 2, 3].find((seed) => key(seed).toString() === text);
    for (const [name, peers, device, expected] of table) {
      const kicks = handshakeKicks(peers, device);
      assert.ok(kicks.every((change) => change.updateOnly === true), name);
      assert.deepEqual(kicks.map((change) => `${seedOf(change.publicKey.toString())}:${change.persistentKeepaliveSeconds}`), expected, name);
    }
  });
  it('leaves the peer as desired (kicks never create a peer nor change more than the keepalive)', async () => {
    const control = new MemoryWireguardControl();
    control.createDevice('flannel-wg');
    const peer = desired(1, 0);
    await control.configureDevice('flannel-wg', { peers: [{ publicKey: peer.publicKey, persistentKeepaliveSeconds: 0, allowedIps: peer.allowedIps, ...(peer.endpoint ? { endpoint: peer.endpoint } : {}) }] });
    const before = await control.getDevice('flannel-wg');
    await control.configureDevice('flannel-wg', { peers: handshakeKicks([peer, desired(2, 0)], before!) });
    assert.deepEqual(await control.getDevice('flannel-wg'), before);
  });
});
