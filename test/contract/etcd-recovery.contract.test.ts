/**
 * etcd disaster recovery as flanneld sees it: the store restored from a backup (revision going back, or a new
 * cluster ID with the revision already past ours) is noticed when the watch is resumed, and the lease stream
 * answers with a fresh snapshot (without our lease after a wipe), instead of waiting silently at a revision
 * the new store has not reached.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EtcdRegistry } from '../../src/adapters/etcd/etcd-registry.js';
import type { Lease } from '../../src/lease/lease.js';
import type { LeaseWatchResult } from '../../src/lease/lease-tracker.js';
import { Cidr, IpAddress } from '../../src/net/ip.js';
import { watchLeaseStream } from '../../src/subnet/lease-watch.js';
import type { RegistryWatchBatch } from '../../src/subnet/registry.js';
import { FlannelError } from '../../src/support/errors.js';
import { silentLogger } from '../../src/support/logger.js';
import { Backoff } from '../../src/support/timing.js';
import { assertInContractNetns } from '../support/contract-netns.js';
import { type EtcdServer, startEtcd } from '../support/etcd-server.js';

assertInContractNetns();

const lease = (subnet: string, ip: string): Lease => ({ subnet: Cidr.parse(subnet), attrs: { publicIP: IpAddress.parse(ip), backendType: 'host-gw' } });

/** The first watch outcome from `from`: a batch, the error, or 'nothing' after 3 s (the silent wait). */
async function firstOutcome(registry: EtcdRegistry, from: bigint): Promise<RegistryWatchBatch | Error | 'nothing'> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), 3000);
  try {
    for await (const batch of registry.watchLeases(from, controller.signal)) return batch;
    return 'nothing';
  } catch (error) {
    return error as Error;
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
}

const isReset = (outcome: unknown) => outcome instanceof FlannelError && outcome.code === 'REGISTRY_RESET';

describe('etcd restored from a backup', () => {
  let etcd: EtcdServer;
  let registry: EtcdRegistry;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'flannel-ts-snap-'));
    etcd = await startEtcd(23830);
    registry = new EtcdRegistry({ endpoints: [etcd.url], prefix: '/coreos.com/network' });
  });
  after(async () => {
    await registry.close();
    await etcd.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a restore to an older revision is REGISTRY_RESET when the watch resumes', async () => {
    await registry.createLease(lease('10.244.1.0/24', '198.18.0.11'), 3600);
    etcd.etcdctl(['snapshot', 'save', join(dir, 'old.db')]);
    await registry.createLease(lease('10.244.2.0/24', '198.18.0.12'), 3600);
    await registry.createLease(lease('10.244.3.0/24', '198.18.0.13'), 3600);
    const seen = (await registry.listLeases()).revision;
    await etcd.restore(join(dir, 'old.db'));
    const outcome = await firstOutcome(registry, seen + 1n);
    assert.ok(isReset(outcome), `got ${String(outcome)}`);
    assert.deepEqual((await registry.listLeases()).leases.map((l) => l.subnet.toString()), ['10.244.1.0/24']);
  });

  it('a restore into a new cluster is REGISTRY_RESET even when its revision is already past ours', async () => {
    const seen = (await registry.listLeases()).revision;
    etcd.etcdctl(['snapshot', 'save', join(dir, 'new.db')]);
    await etcd.restore(join(dir, 'new.db'), 'restored-cluster');
    for (let index = 0; index < 5; index++) etcd.etcdctl(['put', `/elsewhere/${index}`, 'x']);
    const outcome = await firstOutcome(registry, seen + 1n);
    assert.ok(isReset(outcome), `got ${String(outcome)}`);
    assert.match((outcome as Error).message, /cluster ID changed/);
  });

  it('the lease stream answers a wipe with a snapshot that lacks our lease', async () => {
    const ours = lease('10.244.9.0/24', '198.18.0.19');
    await registry.createLease(ours, 3600);
    const controller = new AbortController();
    const results: LeaseWatchResult[] = [];
    const stream = watchLeaseStream(registry, {
      signal: controller.signal, logger: silentLogger(), onMalformed: () => undefined, backoff: new Backoff(50, 200),
    });
    const consumer = (async () => {
      for await (const result of stream) results.push(result);
    })();
    try {
      const deadline = Date.now() + 5000;
      while (results.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      assert.ok((results[0] as { leases: readonly Lease[] }).leases.some((l) => l.subnet.equals(ours.subnet)));
      await etcd.wipe();
      etcd.etcdctl(['put', '/coreos.com/network/subnets/10.244.7.0-24', '{"PublicIP":"198.18.0.17","BackendType":"host-gw"}']);
      while (results.length < 2 && Date.now() < deadline + 10_000) await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal(results[1]?.kind, 'snapshot', 'a wiped store is re-listed');
      assert.deepEqual((results[1] as { leases: readonly Lease[] }).leases.map((l) => l.subnet.toString()), ['10.244.7.0/24']);
    } finally {
      controller.abort();
      await consumer;
    }
  });
});
