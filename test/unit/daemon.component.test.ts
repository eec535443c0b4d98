import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Cidr } from '../../src/net/ip.js';
import { MemoryRegistry } from '../../src/subnet/memory-registry.js';
import { sleep } from '../../src/support/timing.js';
import { DaemonHost, HOST_GW_CONFIG, until } from '../support/daemon-host.js';
import { routeTable } from '../support/golden.js';

const CONFIG = HOST_GW_CONFIG;

class Host extends DaemonHost {
  constructor(registry: MemoryRegistry, ip: string, renewMarginMs = 60 * 60_000) {
    super(registry, ip, { renewMarginMs });
  }
}

describe('two daemons on MemoryRegistry + MemoryKernel', () => {
  const registry = new MemoryRegistry();
  const a = new Host(registry, '198.18.0.11');
  const b = new Host(registry, '198.18.0.12');
  before(() => {
    a.start();
    b.start();
  });
  after(async () => {
    await a.stop();
    await b.stop();
  });

  it('wait for the config, lease distinct subnets and route to each other', async () => {
    await sleep(30);
    assert.equal(a.daemon.ready, false, 'not ready without a config');
    registry.setNetworkConfig(CONFIG);
    await until('both ready', () => a.daemon.ready && b.daemon.ready);
    assert.notEqual(a.daemon.lease?.subnet.toString(), b.daemon.lease?.subnet.toString());
    assert.match(a.subnetEnv, /^FLANNEL_NETWORK=10\.244\.0\.0\/16\nFLANNEL_SUBNET=10\.244\.\d+\.1\/24\nFLANNEL_MTU=1500\nFLANNEL_IPMASQ=false\n$/);
    await until('routes', () => a.kernel.routes.size === 1 && b.kernel.routes.size === 1);
    assert.equal(routeTable(a.kernel), `${b.daemon.lease?.subnet} via 198.18.0.12 dev #2 proto 111`);
  });

  it('garbage over a healthy peer key, or under a non-subnet key, keeps every route', async () => {
    const before = routeTable(a.kernel);
    const peer = b.daemon.lease?.subnet as Cidr;
    registry.putRaw(`${peer.ip}-${peer.prefixLength}`, 'garbage');
    registry.putRaw('not-a-subnet', '{}');
    await sleep(50);
    assert.equal(routeTable(a.kernel), before, 'the last good lease stays in use');
  });

  it('a compacted watch re-lists and a broken watch resumes, losing nothing', async () => {
    registry.compact(registry.currentRevision + 1n);
    registry.failWatches();
    const c = new Host(registry, '198.18.0.13').start();
    try {
      await until('third host routed on a', () => a.kernel.routes.size === 2);
    } finally {
      await c.stop();
    }
  });
});

describe('lease loss and peer removal', () => {
  it('a deleted own lease comes back with the same subnet; a deleted peer lease removes its route', async () => {
    const registry = new MemoryRegistry();
    registry.setNetworkConfig(CONFIG);
    const a = new Host(registry, '198.18.0.11').start();
    const b = new Host(registry, '198.18.0.12').start();
    try {
      await until('routes', () => a.kernel.routes.size === 1 && b.kernel.routes.size === 1);
      const subnet = a.daemon.lease?.subnet as Cidr;
      await registry.deleteLease({ subnet });
      await until('own lease re-acquired', async () => (await registry.listLeases()).leases.some((l) => l.subnet.equals(subnet)));
      assert.ok(a.daemon.lease?.subnet.equals(subnet));
      await b.stop();
      await registry.deleteLease({ subnet: b.daemon.lease?.subnet as Cidr });
      await until('peer route removed', () => a.kernel.routes.size === 0);
    } finally {
      await a.stop();
      await b.stop();
    }
  });

  it('renews the lease before it expires', async () => {
    const registry = new MemoryRegistry();
    registry.setNetworkConfig(CONFIG);
    const host = new Host(registry, '198.18.0.11', 24 * 3600_000 - 50).start();
    try {
      await until('ready', () => host.daemon.ready);
      const first = host.daemon.lease?.expiresAtMs ?? 0;
      await until('renewed', () => (host.daemon.lease?.expiresAtMs ?? 0) > first);
    } finally {
      await host.stop();
    }
  });
});
