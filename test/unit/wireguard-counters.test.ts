import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { WireguardDeviceState } from '../../src/backend/wireguard/wireguard-control.js';
import { countPass, newWireguardTotals, wireguardCounters } from '../../src/backend/wireguard/wireguard-counters.js';
import { WireguardKey } from '../../src/backend/wireguard/wireguard-key.js';

const NOW = 1_800_000_000_000;
const key = (seed: number) => WireguardKey.generatePrivate(() => Buffer.alloc(32, seed)).publicKey();
const peer = (seed: number, handshakeAgoMs: number | undefined, rx: bigint, tx: bigint) => ({
  publicKey: key(seed), persistentKeepaliveSeconds: 0, allowedIps: [], rxBytes: rx, txBytes: tx,
  ...(handshakeAgoMs === undefined ? {} : { lastHandshakeEpochMs: NOW - handshakeAgoMs }),
});
const device = (name: string, peers: WireguardDeviceState['peers']): WireguardDeviceState => ({ name, listenPort: 51820, fwmark: 0, peers });

describe('wireguard counters', () => {
  it('totals over passes: failures, repairs counted per difference', () => {
    const totals = newWireguardTotals();
    countPass(totals, [{ device: 'flannel-wg', outcome: 'changed', differences: ['a', 'b'], kicked: 2 }, { device: 'flannel-wg-v6', outcome: 'in-sync', differences: [], kicked: 1 }]);
    countPass(totals, [{ device: 'flannel-wg', outcome: 'failed', differences: ['c'], error: new Error('EIO') }, { device: 'flannel-wg-v6', outcome: 'missing', differences: [] }]);
    countPass(totals, [{ device: 'flannel-wg', outcome: 'in-sync', differences: [] }]);
    assert.deepEqual(totals, { syncPasses: 3, syncFailures: 1, repairs: 2, handshakeKicks: 3, wireguardGoStarts: 0 });
  });
  it('per device: peers, recent handshakes (≤ 180 s), oldest handshake age, bytes', () => {
    const table: Array<[string, WireguardDeviceState, Record<string, number>]> = [
      ['no peers', device('flannel-wg', []), { 'flannel-wg.peers': 0, 'flannel-wg.peersRecentHandshake': 0, 'flannel-wg.rxBytes': 0, 'flannel-wg.txBytes': 0 }],
      ['three peers, one never shook hands, one stale', device('flannel-wg-v6', [peer(1, 5_000, 100n, 200n), peer(2, undefined, 0n, 148n), peer(3, 600_400, 7n, 9n)]), {
        'flannel-wg-v6.peers': 3, 'flannel-wg-v6.peersRecentHandshake': 1, 'flannel-wg-v6.oldestHandshakeAgeSeconds': 600, 'flannel-wg-v6.rxBytes': 107, 'flannel-wg-v6.txBytes': 357,
      }],
    ];
    for (const [name, state, expected] of table) {
      assert.deepEqual(wireguardCounters(newWireguardTotals(), [state], NOW), { syncPasses: 0, syncFailures: 0, repairs: 0, handshakeKicks: 0, wireguardGoStarts: 0, ...expected }, name);
    }
  });
});
