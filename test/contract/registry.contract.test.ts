/** One suite, two Registries: MemoryRegistry and EtcdRegistry on a real etcd. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { EtcdRegistry } from '../../src/adapters/etcd/etcd-registry.js';
import { type Lease, encodeLeaseAttrs } from '../../src/lease/lease.js';
import { Cidr, IpAddress } from '../../src/net/ip.js';
import { MemoryRegistry } from '../../src/subnet/memory-registry.js';
import type { Registry, RegistryWatchBatch } from '../../src/subnet/registry.js';
import { FlannelError } from '../../src/support/errors.js';
import { assertInContractNetns } from '../support/contract-netns.js';
import { type EtcdServer, startEtcd } from '../support/etcd-server.js';

interface Harness {
  readonly registry: Registry;
  setConfig(text: string): void;
  putRaw(key: string, value: string): void;
  rawValue(key: string): string | undefined;
  compactNow(): Promise<void>;
  /** The store is lost and comes back empty (etcd: a new data dir), its revisions starting again. */
  wipe(): Promise<void>;
}

const lease = (subnet: string, ip: string): Lease => ({ subnet: Cidr.parse(subnet), attrs: { publicIP: IpAddress.parse(ip), backendType: 'host-gw' } });

async function collect(registry: Registry, from: bigint, count: number): Promise<RegistryWatchBatch[]> {
  const controller = new AbortController();
  const batches: RegistryWatchBatch[] = [];
  let seen = 0;
  const timer = setTimeout(() => controller.abort(), 5000);
  try {
    for await (const batch of registry.watchLeases(from, controller.signal)) {
      batches.push(batch);
      seen += batch.events.length + batch.malformed.length;
      if (seen >= count) break;
    }
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
  return batches;
}

function registryContract(name: string, setUp: () => Promise<Harness>, tearDown: () => Promise<void>): void {
  describe(`Registry contract: ${name}`, () => {
    let harness: Harness;
    before(async () => {
      harness = await setUp();
    });
    after(tearDown);

    it('has no config until one is written', async () => {
      assert.equal(await harness.registry.getNetworkConfig(), undefined);
      harness.setConfig('{"Network":"10.244.0.0/16"}');
      assert.equal(await harness.registry.getNetworkConfig(), '{"Network":"10.244.0.0/16"}');
    });
    it('creates atomically: a second create of the same subnet is SUBNET_TAKEN', async () => {
      const created = await harness.registry.createLease(lease('10.244.1.0/24', '198.18.0.11'), 86400);
      assert.ok(Math.abs((created.expiresAtMs ?? 0) - (Date.now() + 86_400_000)) < 5000);
      await assert.rejects(harness.registry.createLease(lease('10.244.1.0/24', '198.18.0.99'), 86400),
        (error: unknown) => error instanceof FlannelError && error.code === 'SUBNET_TAKEN' && error.retryable);
      assert.equal(harness.rawValue('10.244.1.0-24'), '{"PublicIP":"198.18.0.11","PublicIPv6":null,"BackendType":"host-gw"}');
    });
    it('lists leases and reports malformed entries', async () => {
      harness.putRaw('10.244.77.0-24', 'not json');
      harness.putRaw('bogus', '{}');
      const listing = await harness.registry.listLeases();
      assert.deepEqual(listing.leases.map((l) => l.subnet.toString()), ['10.244.1.0/24']);
      assert.deepEqual(listing.malformed.map((m) => m.key).sort(), ['10.244.77.0-24', 'bogus']);
      assert.ok(listing.revision > 0n);
    });
    it('updates and deletes', async () => {
      await harness.registry.updateLease(lease('10.244.1.0/24', '198.18.0.12'), 60);
      assert.match(harness.rawValue('10.244.1.0-24') ?? '', /198\.18\.0\.12/);
      await harness.registry.deleteLease({ subnet: Cidr.parse('10.244.77.0/24') });
      assert.equal(harness.rawValue('10.244.77.0-24'), undefined);
    });
    it('says when a watch is established, before any change arrives', async () => {
      const from = (await harness.registry.listLeases()).revision + 1n;
      const controller = new AbortController();
      const order: string[] = [];
      const watching = (async () => {
        for await (const batch of harness.registry.watchLeases(from, controller.signal, () => order.push('established'))) {
          order.push(`batch of ${batch.events.length}`);
          break;
        }
      })();
      const deadline = Date.now() + 5000;
      while (order.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
      assert.deepEqual(order, ['established'], 'established with nothing changed');
      await harness.registry.createLease(lease('10.244.3.0/24', '198.18.0.14'), 86400);
      await watching;
      controller.abort();
      assert.deepEqual(order, ['established', 'batch of 1']);
      await harness.registry.deleteLease({ subnet: Cidr.parse('10.244.3.0/24') });
    });
    it('watches every change from a revision, in order', async () => {
      const from = (await harness.registry.listLeases()).revision + 1n;
      await harness.registry.createLease(lease('10.244.2.0/24', '198.18.0.13'), 86400);
      await harness.registry.deleteLease({ subnet: Cidr.parse('10.244.2.0/24') });
      harness.putRaw('10.244.3.0-24', '{"PublicIP":7}');
      const batches = await collect(harness.registry, from, 3);
      const events = batches.flatMap((b) => b.events.map((e) => `${e.type} ${e.type === 'added' ? e.lease.subnet : e.subnet}`));
      assert.deepEqual(events, ['added 10.244.2.0/24', 'removed 10.244.2.0/24']);
      assert.match(batches.flatMap((b) => b.malformed)[0]?.reason ?? '', /PublicIP: invalid IPv4 address 7/);
      assert.ok(batches.every((b, index) => index === 0 || b.revision > (batches[index - 1] as RegistryWatchBatch).revision));
    });
    it('reports when each key was created: a rewrite keeps it, a later key is later, a watch says the same', async () => {
      const from = (await harness.registry.listLeases()).revision + 1n;
      const createdOf = async (subnet: string) => (await harness.registry.listLeases()).leases.find((l) => l.subnet.toString() === subnet)?.createRevision;
      await harness.registry.createLease(lease('10.244.8.0/24', '198.18.0.16'), 86400);
      const first = await createdOf('10.244.8.0/24');
      await harness.registry.updateLease(lease('10.244.8.0/24', '198.18.0.17'), 86400);
      harness.putRaw('10.244.9.0-24', '{"PublicIP":"198.18.0.18"}');
      assert.ok(first !== undefined && first > 0n);
      assert.equal(await createdOf('10.244.8.0/24'), first, 'renewal keeps the creation revision');
      assert.ok(((await createdOf('10.244.9.0/24')) ?? 0n) > first);
      const watched = (await collect(harness.registry, from, 3)).flatMap((b) => b.events).map((e) => (e.type === 'added' ? e.lease.createRevision : undefined));
      assert.deepEqual(watched.slice(0, 2), [first, first]);
      await harness.registry.deleteLease({ subnet: Cidr.parse('10.244.9.0/24') });
    });
    it('a compacted revision is COMPACTED', async () => {
      const old = (await harness.registry.listLeases()).revision;
      await harness.registry.createLease(lease('10.244.4.0/24', '198.18.0.14'), 86400);
      await harness.registry.createLease(lease('10.244.5.0/24', '198.18.0.15'), 86400);
      await harness.compactNow();
      await assert.rejects(collect(harness.registry, old, 1), (error: unknown) => error instanceof FlannelError && error.code === 'COMPACTED');
    });
    // Last: it loses everything the tests above wrote.
    it('a watch resumed on a wiped store is REGISTRY_RESET (not a silent wait), and a new listing starts over', async () => {
      await harness.registry.createLease(lease('10.244.6.0/24', '198.18.0.16'), 86400);
      const seen = (await harness.registry.listLeases()).revision;
      await harness.wipe();
      await assert.rejects(collect(harness.registry, seen + 1n, 1), (error: unknown) => error instanceof FlannelError && error.code === 'REGISTRY_RESET');
      const listing = await harness.registry.listLeases();
      assert.deepEqual(listing.leases, []);
      assert.ok(listing.revision < seen);
      await harness.registry.createLease(lease('10.244.6.0/24', '198.18.0.16'), 86400);
      const batches = await collect(harness.registry, listing.revision + 1n, 1);
      assert.deepEqual(batches.flatMap((b) => b.events.map((e) => e.type)), ['added']);
    });
  });
}

assertInContractNetns();

let memory: MemoryRegistry;
registryContract('MemoryRegistry', async () => {
  memory = new MemoryRegistry();
  const raw = (memory as unknown as { entries: Map<string, { value: string }> }).entries;
  return {
    registry: memory,
    setConfig: (text) => memory.setNetworkConfig(text),
    putRaw: (key, value) => memory.putRaw(key, value),
    rawValue: (key) => raw.get(key)?.value,
    compactNow: async () => memory.compact(memory.currentRevision + 1n),
    wipe: async () => memory.wipe(),
  };
}, async () => memory.close());

let etcd: EtcdServer;
let etcdRegistry: EtcdRegistry;
registryContract('EtcdRegistry on a real etcd', async () => {
  etcd = await startEtcd();
  etcdRegistry = new EtcdRegistry({ endpoints: ['http://127.0.0.1:1', etcd.url], prefix: '/coreos.com/network' });
  const key = (relative: string) => `/coreos.com/network/subnets/${relative}`;
  return {
    registry: etcdRegistry,
    setConfig: (text) => void etcd.etcdctl(['put', '/coreos.com/network/config', text]),
    putRaw: (relative, value) => void etcd.etcdctl(['put', key(relative), value]),
    rawValue: (relative) => {
      const lines = etcd.etcdctl(['get', key(relative)]).split('\n');
      return lines.length >= 2 && lines[0] === key(relative) ? lines[1] : undefined;
    },
    compactNow: async () => {
      const revision = (await etcdRegistry.listLeases()).revision;
      etcd.etcdctl(['compact', String(revision)]);
    },
    wipe: () => etcd.wipe(),
  };
}, async () => {
  await etcdRegistry.close();
  await etcd.stop();
});

describe('EtcdRegistry errors', () => {
  it('an unreachable etcd is a retryable ETCD_UNAVAILABLE', async () => {
    const registry = new EtcdRegistry({ endpoints: ['http://127.0.0.1:1'], prefix: '/x', requestTimeoutMs: 500 });
    try {
      await assert.rejects(registry.getNetworkConfig(), (error: unknown) => error instanceof FlannelError && error.code === 'ETCD_UNAVAILABLE' && error.retryable);
    } finally {
      await registry.close();
    }
  });
  it('encodes values byte for byte like upstream', () => {
    assert.equal(encodeLeaseAttrs(lease('10.244.1.0/24', '1.2.3.4').attrs), '{"PublicIP":"1.2.3.4","PublicIPv6":null,"BackendType":"host-gw"}');
  });
});
