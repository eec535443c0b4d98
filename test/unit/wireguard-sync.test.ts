import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryWireguardControl } from '../../src/backend/wireguard/memory-wireguard-control.js';
import { WireguardKey } from '../../src/backend/wireguard/wireguard-key.js';
import { parseWireguardOptions } from '../../src/backend/wireguard/wireguard-options.js';
import { WireguardPlanner } from '../../src/backend/wireguard/wireguard-planner.js';
import { WireguardSync } from '../../src/backend/wireguard/wireguard-sync.js';
import type { Lease } from '../../src/lease/lease.js';
import { Cidr, IpAddress } from '../../src/net/ip.js';
import { FlannelError } from '../../src/support/errors.js';
import { config } from '../support/fixtures.js';

const NOW = 1_800_000_000_000;
const networkConfig = config({ Backend: { Type: 'wireguard', PersistentKeepaliveInterval: 5 } });
const host = (seed: number, ip: string) => new WireguardPlanner({
  config: networkConfig, options: parseWireguardOptions(networkConfig.backend), privateKey: WireguardKey.generatePrivate(() => Buffer.alloc(32, seed)), implementation: 'userspace',
  externalInterface: { mtu: 1500, extAddr: IpAddress.parse(ip) },
});
const leaseOf = (planner: WireguardPlanner, subnet: string): Lease => ({ subnet: Cidr.parse(subnet), attrs: planner.leaseAttrs });

describe('WireguardSync (one reconcile pass over WireGuard devices)', () => {
  const a = host(1, '198.18.0.11');
  const b = host(2, '198.18.0.12');
  const c = host(3, '198.18.0.13');
  const own = leaseOf(a, '10.244.1.0/24');
  const peers = [leaseOf(b, '10.244.2.0/24'), leaseOf(c, '10.244.3.0/24')];
  const pass = async (sync: WireguardSync, leases: Lease[], nowMs = NOW) => {
    const plan = a.plan(own, leases);
    return sync.sync(plan.devices, plan.groups.flatMap((group) => group.wireguardPeers), nowMs);
  };

  it('missing until the device exists; then configured in one change; then in sync', async () => {
    const control = new MemoryWireguardControl();
    const sync = new WireguardSync(control);
    assert.deepEqual((await pass(sync, peers)).map((r) => r.outcome), ['missing']);
    control.createDevice('flannel-wg', 40000);
    const first = await pass(sync, peers);
    assert.deepEqual([first[0]?.outcome, first[0]?.differences.length], ['changed', 4]);
    assert.deepEqual((await pass(sync, peers)).map((r) => r.outcome), ['in-sync']);
    assert.equal((await control.getDevice('flannel-wg'))?.publicKey?.toString(), a.publicKey.toString());
  });
  it('restores a peer someone removed (`wg set flannel-wg peer … remove`) and removes one a lease no longer asks for', async () => {
    const control = new MemoryWireguardControl();
    control.createDevice('flannel-wg');
    const sync = new WireguardSync(control);
    await pass(sync, peers);
    await control.configureDevice('flannel-wg', { peers: [{ publicKey: b.publicKey, remove: true }] });
    const repaired = await pass(sync, peers);
    assert.deepEqual(repaired[0]?.differences, [`flannel-wg: peer ${b.publicKey} missing`]);
    assert.equal((await pass(sync, [peers[1] as Lease]))[0]?.differences[0], `flannel-wg: peer ${b.publicKey} not wanted`);
    assert.deepEqual((await control.getDevice('flannel-wg'))?.peers.map((p) => p.publicKey.toString()), [c.publicKey.toString()]);
  });
  it('a restarted wireguard-go (empty device) is configured again', async () => {
    const control = new MemoryWireguardControl();
    control.createDevice('flannel-wg');
    const sync = new WireguardSync(control);
    await pass(sync, peers);
    control.deleteDevice('flannel-wg');
    assert.equal((await pass(sync, peers))[0]?.outcome, 'missing');
    control.createDevice('flannel-wg', 41000);
    assert.equal((await pass(sync, peers))[0]?.differences.length, 4, 'key, port and both peers again');
  });
  it('leaves a roamed endpoint with a live session alone, but applies a changed lease endpoint at once', async () => {
    const control = new MemoryWireguardControl();
    control.createDevice('flannel-wg');
    const sync = new WireguardSync(control);
    await pass(sync, peers);
    control.recordHandshake('flannel-wg', b.publicKey, NOW - 5000, { ip: IpAddress.parse('203.0.113.9'), port: 40404 });
    assert.equal((await pass(sync, peers))[0]?.outcome, 'in-sync', 'roamed on a live session');
    const moved = { ...leaseOf(b, '10.244.2.0/24'), attrs: { ...b.leaseAttrs, publicIP: IpAddress.parse('198.18.0.22') } };
    const result = await pass(sync, [moved, peers[1] as Lease]);
    assert.deepEqual(result[0]?.differences, [`flannel-wg: peer ${b.publicKey} endpoint 203.0.113.9:40404, want 198.18.0.22:51820`]);
    assert.equal((await pass(sync, [moved, peers[1] as Lease], NOW + 400_000))[0]?.outcome, 'in-sync');
  });
  it('reports a failure without throwing and finishes on the next pass', async () => {
    const control = new MemoryWireguardControl();
    control.createDevice('flannel-wg');
    const sync = new WireguardSync(control);
    control.failNext(new FlannelError('EADDRINUSE', 'port taken'));
    const failed = await pass(sync, peers);
    assert.deepEqual([failed[0]?.outcome, (failed[0]?.error as FlannelError | undefined)?.code], ['failed', 'EADDRINUSE']);
    assert.equal((await pass(sync, peers))[0]?.outcome, 'changed');
    assert.equal((await pass(sync, peers))[0]?.outcome, 'in-sync');
  });
});
