/**
 * The data-path hook (Backend.runDataPath) in a daemon on MemoryRegistry + MemoryKernel, with a backend shaped
 * like udp: its data path opens a TUN through an injected forwarder port; the reconciler waits for the device,
 * then owns its address and route. The hook hears our lease and the admitted peers, publishes counters, is
 * awaited on shutdown, and its failure stops the daemon.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Backend, BackendContext } from '../../src/backend/backend.js';
import type { DataPathContext, LeaseSnapshot } from '../../src/backend/data-path.js';
import { type RunningUdpForwarder, type UdpForwarderOptions, type UdpForwarderPort, requireAdapter } from '../../src/backend/data-path-ports.js';
import { FLANNEL_ROUTE_PROTOCOL, MAIN_TABLE } from '../../src/dataplane/kernel-objects.js';
import type { MemoryKernel } from '../../src/dataplane/memory-kernel.js';
import { Cidr } from '../../src/net/ip.js';
import { MemoryRegistry } from '../../src/subnet/memory-registry.js';
import { FlannelError } from '../../src/support/errors.js';
import { DaemonHost, HOST_GW_CONFIG, until } from '../support/daemon-host.js';
import { kernelText } from '../support/golden.js';

/** A forwarder double: "opens" its TUN on a MemoryKernel (as the kernel makes one: down, MTU 1500). */
class FakeForwarder implements UdpForwarderPort {
  peers: string[] = [];
  stopped = false;
  constructor(private readonly kernel: () => MemoryKernel) {}

  async start(options: UdpForwarderOptions): Promise<RunningUdpForwarder> {
    this.kernel().addLink({ index: 60, name: options.tunName, mtu: 1500, up: false, kind: 'tun', tun: { type: 'tun' } });
    options.onDevice({ name: options.tunName, index: 60, reopened: false });
    return {
      setPeers: (peers) => {
        this.peers = peers.map((peer) => `${peer.subnet}@${peer.publicIp}`);
        return [];
      },
      counters: () => ({ packets: this.peers.length }),
      stop: async () => {
        this.stopped = true;
        this.kernel().deleteLinkByHand(options.tunName);
      },
    };
  }
}

/** A udp-like backend: flannel0 made by its data path, our /32 on it and the whole Network through it. */
function tunBackend(hook: Backend['runDataPath']) {
  return ({ config, externalInterface }: BackendContext): Backend => ({
    type: 'test-udp',
    mtu: externalInterface.mtu - 28,
    leaseAttrs: { publicIP: externalInterface.extAddr!, backendType: 'host-gw' },
    devices: [{ kind: 'tun', name: 'flannel0', mtu: externalInterface.mtu - 28 }],
    plan: (own) => ({
      devices: [{ kind: 'tun', name: 'flannel0', mtu: externalInterface.mtu - 28 }],
      addresses: [{ linkName: 'flannel0', address: Cidr.of(own.subnet.ip, 32) }],
      groups: [{ neighbours: [], routes: [{ dst: config.network!, linkName: 'flannel0', table: MAIN_TABLE, protocol: FLANNEL_ROUTE_PROTOCOL, type: 'unicast', onlink: false }] }],
      warnings: [],
    }),
    ...(hook ? { runDataPath: hook } : {}),
  });
}

describe('data-path hook', () => {
  it('runs with its ports and the peers, makes the device the reconciler waits for, and is awaited on shutdown', async () => {
    const registry = new MemoryRegistry();
    registry.setNetworkConfig(HOST_GW_CONFIG);
    const snapshots: LeaseSnapshot[] = [];
    const present: Array<ReadonlyMap<string, number>> = [];
    let hookReturned = false;
    let host: DaemonHost | undefined;
    const forwarder = new FakeForwarder(() => (host as DaemonHost).kernel);
    let opened: (() => void) | undefined;
    const mayOpen = new Promise<void>((resolve) => (opened = resolve));
    const hook = async (context: DataPathContext, signal: AbortSignal) => {
      void (async () => {
        for await (const devices of context.devices.present.changes(signal)) present.push(devices);
      })();
      await mayOpen; // hold the device back: the daemon must not be ready without it
      const port = requireAdapter(context.adapters, 'udpForwarder', 'test-udp');
      const { own } = context.leases.current();
      const running = await port.start({
        tunName: 'flannel0', tunAddress: own.subnet.ip, bindAddress: own.attrs.publicIP, port: 8285, mtu: 1472, peers: [],
        onDevice: (event) => context.devices.appeared(event.name), onError: (error) => context.logger.error(error.message),
      });
      for await (const snapshot of context.leases.changes(signal)) {
        snapshots.push(snapshot);
        running.setPeers(snapshot.peers.map((peer) => ({ subnet: peer.subnet, publicIp: peer.attrs.publicIP })));
        context.counters.publish(running.counters());
      }
      await running.stop();
      hookReturned = true;
    };
    host = new DaemonHost(registry, '198.18.0.11', { backendFactory: () => tunBackend(hook), dataPathAdapters: { udpForwarder: forwarder } }).start();
    const peer = new DaemonHost(registry, '198.18.0.12').start();
    try {
      await until('leased', () => host?.daemon.lease !== undefined);
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(host.daemon.ready, false, 'not ready while the data path has not made flannel0');
      opened?.();
      await until('ready', () => host!.daemon.ready);
      const subnet = host.daemon.lease!.subnet;
      await until('address and route on flannel0', () => /route 10\.244\.0\.0\/16 dev flannel0/.test(kernelText(host!.kernel)));
      assert.match(kernelText(host.kernel), new RegExp(`addr ${subnet.ip}/32 dev flannel0[\\s\\S]*link flannel0 tun mtu 1472 up`));
      await until('the peer reached the data path', () => forwarder.peers.length === 1);
      assert.deepEqual(forwarder.peers, [`${peer.daemon.lease?.subnet}@198.18.0.12`]);
      assert.ok(snapshots.every((snapshot) => snapshot.own.subnet.equals(subnet)));
      assert.deepEqual(host.daemon.dataPathCounters, { packets: 1 });
      assert.deepEqual(present.at(-1), new Map([['flannel0', 60]]), 'the data path hears which of the plan’s devices exist');
      assert.deepEqual(present[0], new Map(), 'none at first');
    } finally {
      await host.stop();
      await peer.stop();
    }
    assert.deepEqual([hookReturned, forwarder.stopped], [true, true], 'stop() returned after the hook did');
  });

  it('a failed data path stops the daemon with its error', async () => {
    const registry = new MemoryRegistry();
    registry.setNetworkConfig(HOST_GW_CONFIG);
    const host = new DaemonHost(registry, '198.18.0.11', {
      backendFactory: () => tunBackend(async (context) => void requireAdapter(context.adapters, 'udpForwarder', 'test-udp')),
    }).start();
    await host.finished();
    assert.ok(host.failure instanceof FlannelError);
    assert.equal(host.failure.code, 'NO_ADAPTER');
    assert.match(host.failure.message, /the test-udp backend needs the udpForwarder adapter/);
  });
});
