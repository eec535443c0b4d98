/**
 * The wireguard backend in daemons on MemoryRegistry + MemoryKernel, with a WireguardPort double (userspace:
 * a fake wireguard-go making a TUN; kernel: the reconciler making a wireguard link). Peers are desired state:
 * each daemon's device holds the other's key, endpoint and subnet; a removed peer, a restarted wireguard-go,
 * a re-created kernel link and a deleted lease are all brought back to the plan.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BackendFactory } from '../../src/backend/backend.js';
import { formatEndpoint } from '../../src/backend/wireguard/wireguard-control.js';
import { createWireguardBackend } from '../../src/backend/wireguard/wireguard-backend.js';
import type { DaemonDeps } from '../../src/daemon/daemon.js';
import { MemoryKernel } from '../../src/dataplane/memory-kernel.js';
import { encodeLeaseAttrs } from '../../src/lease/lease.js';
import { IpAddress } from '../../src/net/ip.js';
import { EtcdSubnetManager } from '../../src/subnet/etcd-subnet-manager.js';
import { silentLogger } from '../../src/support/logger.js';
import { sleep } from '../../src/support/timing.js';
import { MemoryRegistry } from '../../src/subnet/memory-registry.js';
import { DaemonHost, until } from '../support/daemon-host.js';
import { FakeWireguardPort } from '../support/fake-wireguard-port.js';
import { kernelText } from '../support/golden.js';

const config = (implementation: string) => JSON.stringify({ Network: '10.244.0.0/16', Backend: { Type: 'wireguard', Implementation: implementation, PersistentKeepaliveInterval: 25 } });
const factory: () => BackendFactory = () => (context) => createWireguardBackend(context, { resyncMs: 20 });

/** A daemon at `ip` whose WireguardPort offers `support`; the reconciler hears MemoryKernel's notifications. */
function wireguardHost(registry: MemoryRegistry, ip: string, seed: number, support: { kernel: boolean; userspaceCommand?: string }) {
  let host: DaemonHost | undefined;
  const port = new FakeWireguardPort(() => (host as DaemonHost).kernel, support, seed);
  const overrides: Omit<Partial<DaemonDeps>, 'kernel'> = {
    backendFactory: factory, dataPathAdapters: { wireguard: port }, resyncIntervalMs: 50,
    watchKernel: async (onEvents) => {
      const unsubscribe = (host as DaemonHost).kernel.subscribe((tagged) => onEvents([tagged.event]));
      return { stop: async () => void unsubscribe() };
    },
  };
  host = new DaemonHost(registry, ip, overrides);
  return { host: host.start(), port };
}

/** `peer <key> endpoint <ip:port> allowed <subnets>` lines of a device, sorted. */
async function peerLines(port: FakeWireguardPort, device = 'flannel-wg'): Promise<string[]> {
  const state = await port.devices.getDevice(device);
  return (state?.peers ?? []).map((peer) => `peer ${peer.publicKey} endpoint ${peer.endpoint ? formatEndpoint(peer.endpoint) : '-'} allowed ${peer.allowedIps.join(',')} keepalive ${peer.persistentKeepaliveSeconds}`).sort();
}

function peerLine(port: FakeWireguardPort, ip: string, host: DaemonHost): string {
  return `peer ${port.privateKey.publicKey()} endpoint ${ip}:51820 allowed ${host.daemon.lease?.subnet} keepalive 25`;
}

describe('wireguard backend (daemons on MemoryKernel, WireguardPort double)', () => {
  it('userspace: waits for wireguard-go\'s TUN, configures key and peers, repairs a removed peer and a killed wireguard-go', async () => {
    const registry = new MemoryRegistry();
    registry.setNetworkConfig(config('auto'));
    const a = wireguardHost(registry, '198.18.0.11', 1, { kernel: false, userspaceCommand: '/usr/bin/wireguard-go' });
    const b = wireguardHost(registry, '198.18.0.12', 2, { kernel: false, userspaceCommand: '/usr/bin/wireguard-go' });
    try {
      await until('both ready', () => a.host.daemon.ready && b.host.daemon.ready);
      const expected = [peerLine(b.port, '198.18.0.12', b.host)];
      await until('a has b as its peer', async () => (await peerLines(a.port)).join() === expected.join());
      const device = await a.port.devices.getDevice('flannel-wg');
      assert.equal(device?.publicKey?.toString(), a.port.privateKey.publicKey().toString());
      assert.equal(device?.listenPort, 51820);
      const subnet = a.host.daemon.lease?.subnet;
      assert.match(kernelText(a.host.kernel), new RegExp(`addr ${subnet?.ip}/32 dev flannel-wg`));
      assert.match(kernelText(a.host.kernel), /link flannel-wg tun mtu 1420 up/);
      assert.match(kernelText(a.host.kernel), /route 10\.244\.0\.0\/16 dev flannel-wg/);
      assert.match(a.host.subnetEnv, /FLANNEL_MTU=1420/);
      const published = (await registry.listLeases()).leases.find((lease) => lease.subnet.equals(subnet!));
      assert.equal(published && encodeLeaseAttrs(published.attrs), `{"PublicIP":"198.18.0.11","PublicIPv6":null,"BackendType":"wireguard","BackendData":{"PublicKey":"${a.port.privateKey.publicKey()}","Port":51820}}`);

      // `wg set flannel-wg peer <b> remove`, and a peer nobody asked for.
      await a.port.devices.configureDevice('flannel-wg', { peers: [{ publicKey: b.port.privateKey.publicKey(), remove: true }, { publicKey: b.port.privateKey, allowedIps: [] }] });
      await until('the removed peer is back and the stranger gone', async () => (await peerLines(a.port)).join() === expected.join());

      // wireguard-go killed: its TUN goes; the next one is configured again and the reconciler sets up its link.
      a.port.killWireguardGo('flannel-wg');
      await until('wireguard-go restarted', () => a.port.starts.get('flannel-wg') === 2);
      await until('restarted device configured', async () => (await peerLines(a.port)).join() === expected.join() && (await a.port.devices.getDevice('flannel-wg'))?.listenPort === 51820);
      await until('its link set up again', () => /link flannel-wg tun mtu 1420 up/.test(kernelText(a.host.kernel)) && kernelText(a.host.kernel).includes(`addr ${subnet?.ip}/32 dev flannel-wg`));
      const counters = a.host.daemon.dataPathCounters;
      assert.equal(counters['flannel-wg.peers'], 1);
      assert.equal(counters.wireguardGoStarts, 2);
      assert.ok((counters.repairs ?? 0) >= 5, `repairs ${counters.repairs}`);
      assert.ok((counters.syncPasses ?? 0) > 3);

      // b's lease goes away: its peer goes.
      await b.host.stop();
      await registry.deleteLease(b.host.daemon.lease!);
      await until('b removed from a', async () => (await peerLines(a.port)).length === 0);
    } finally {
      await a.host.stop();
      await b.host.stop();
    }
  });

  it('kernel: the reconciler creates the wireguard link; a link deleted by hand comes back and is configured again', async () => {
    const registry = new MemoryRegistry();
    registry.setNetworkConfig(config('auto'));
    const a = wireguardHost(registry, '198.18.0.11', 3, { kernel: true, userspaceCommand: '/usr/bin/wireguard-go' });
    const b = wireguardHost(registry, '198.18.0.12', 4, { kernel: true });
    try {
      await until('both ready', () => a.host.daemon.ready && b.host.daemon.ready);
      const expected = [peerLine(b.port, '198.18.0.12', b.host)];
      await until('a has b as its peer', async () => (await peerLines(a.port)).join() === expected.join());
      assert.match(kernelText(a.host.kernel), /link flannel-wg wireguard mtu 1420 up/);
      assert.equal(a.port.starts.size, 0, 'no wireguard-go when the kernel has WireGuard');
      const before = [...a.host.kernel.links.values()].find((link) => link.name === 'flannel-wg')?.index;
      a.host.kernel.deleteLinkByHand('flannel-wg');
      await until('link re-created', () => [...a.host.kernel.links.values()].some((link) => link.name === 'flannel-wg' && link.index !== before));
      await until('new link configured', async () => (await peerLines(a.port)).join() === expected.join() && (await a.port.devices.getDevice('flannel-wg'))?.privateKey !== undefined);
    } finally {
      await a.host.stop();
      await b.host.stop();
    }
  });

  it('a restarted flanneld keeps the live peers of the wireguard-go it adopts while the peer leases are still loading', async () => {
    const registry = new MemoryRegistry();
    registry.setNetworkConfig(config('auto'));
    const b = wireguardHost(registry, '198.18.0.12', 2, { kernel: false, userspaceCommand: '/usr/bin/wireguard-go' });
    await until('b ready', () => b.host.daemon.ready);
    await b.host.stop();
    // a's previous life: a wireguard-go still running, configured with b as its peer.
    const kernel = new MemoryKernel().addLink({ index: 50, name: 'flannel-wg', mtu: 1420, up: true, kind: 'tun', tun: { type: 'tun' } });
    let host: DaemonHost | undefined;
    const port = new FakeWireguardPort(() => (host as DaemonHost).kernel, { kernel: false, userspaceCommand: '/usr/bin/wireguard-go' }, 1);
    port.devices.createDevice('flannel-wg', 51820);
    const peerB = { publicKey: b.port.privateKey.publicKey(), allowedIps: [b.host.daemon.lease!.subnet], endpoint: { ip: IpAddress.parse('198.18.0.12'), port: 51820 }, persistentKeepaliveSeconds: 25 };
    await port.devices.configureDevice('flannel-wg', { privateKey: port.privateKey, peers: [peerB] });
    port.devices.changes.length = 0;
    // Peer leases arrive 200 ms after our lease is held.
    const slow = new EtcdSubnetManager({ registry, logger: silentLogger() });
    const subnetManager = Object.assign(Object.create(slow) as EtcdSubnetManager, {
      async *watchLeases(signal: AbortSignal, onMalformed: Parameters<EtcdSubnetManager['watchLeases']>[1]) {
        await sleep(200, signal);
        yield* slow.watchLeases(signal, onMalformed);
      },
    });
    host = new DaemonHost(registry, '198.18.0.11', { kernel, subnetManager, backendFactory: factory, dataPathAdapters: { wireguard: port } }).start();
    try {
      await until('ready', () => host!.daemon.ready, 5000);
      await sleep(100);
      assert.deepEqual(port.devices.changes.map(({ change }) => (change.peers ?? []).filter((peer) => peer.remove).length), port.devices.changes.map(() => 0), 'no peer removed');
      assert.deepEqual(await peerLines(port), [peerLine(b.port, '198.18.0.12', b.host)]);
      assert.equal(port.starts.size, 0, 'adopted, not started');
    } finally {
      await host.stop();
    }
  });

  it('Implementation forced to one the host lacks: flanneld stops at start saying what is missing', async () => {
    const registry = new MemoryRegistry();
    registry.setNetworkConfig(config('kernel'));
    const { host } = wireguardHost(registry, '198.18.0.11', 5, { kernel: false, userspaceCommand: '/usr/bin/wireguard-go' });
    await host.finished();
    assert.match(String((host.failure as Error | undefined)?.message), /Backend\.Implementation is "kernel" but this kernel has no WireGuard/);
    assert.equal(host.daemon.lease, undefined, 'no lease taken');
  });
});
