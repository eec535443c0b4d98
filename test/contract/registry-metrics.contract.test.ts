/**
 * Registry request metrics from the real clients: our etcd client on a real etcd, our Kubernetes client on the
 * fake API server. Every operation is timed under its op name, failures are classified, and a watch that ends
 * other than by our abort counts as a restart with its reason.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { EtcdRegistry } from '../../src/adapters/etcd/etcd-registry.js';
import { FakeApiServer } from '../../src/adapters/kube/fake-apiserver.js';
import { KubeClient } from '../../src/adapters/kube/kube-client.js';
import { resolveKubeConnection } from '../../src/adapters/kube/kube-connection.js';
import { ClusterStore } from '../../src/kube-fake/cluster-store.js';
import type { Lease } from '../../src/lease/lease.js';
import { type MetricsService, createMetricsService } from '../../src/metrics/metrics-service.js';
import { Cidr, IpAddress } from '../../src/net/ip.js';
import { assertInContractNetns } from '../support/contract-netns.js';
import { type EtcdServer, startEtcd } from '../support/etcd-server.js';

assertInContractNetns();

const lease = (subnet: string): Lease => ({ subnet: Cidr.parse(subnet), attrs: { publicIP: IpAddress.parse('198.18.0.11'), backendType: 'host-gw' } });
const count = (service: MetricsService, registry: string, op: string) => service.registry.histogramValue('flannel_registry_request_duration_seconds', { registry, op })?.count ?? 0;
const errors = (service: MetricsService, registry: string, op: string, error: string) => service.registry.value('flannel_registry_request_errors_total', { registry, op, error }) ?? 0;
const restarts = (service: MetricsService, registry: string, reason: string) => service.registry.value('flannel_watch_restarts_total', { registry, reason }) ?? 0;

/** Reads a watch until `stop` says so (then aborts it), or until it ends; returns how it ended. */
async function drain(watch: (signal: AbortSignal) => AsyncIterable<unknown>, stop: (seen: number) => boolean): Promise<string> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), 5000);
  let seen = 0;
  try {
    for await (const _ of watch(controller.signal)) {
      if (stop(++seen)) {
        controller.abort();
        return 'aborted';
      }
    }
    return 'ended';
  } catch (error) {
    return `threw ${(error as { code?: string }).code}`;
  } finally {
    clearTimeout(timer);
  }
}

describe('etcd registry metrics', () => {
  let etcd: EtcdServer;
  let registry: EtcdRegistry;
  const service = createMetricsService({ version: 'test' });
  before(async () => {
    etcd = await startEtcd(23890);
    registry = new EtcdRegistry({ endpoints: [etcd.url], prefix: '/coreos.com/network', metrics: service.metrics.registry });
  });
  after(async () => {
    await registry.close();
    await etcd.stop();
  });

  it('times every operation under its name and classifies a lost create race as a conflict', async () => {
    etcd.etcdctl(['put', '/coreos.com/network/config', '{"Network":"10.244.0.0/16"}']);
    await registry.getNetworkConfig();
    await registry.listLeases();
    const created = await registry.createLease(lease('10.244.1.0/24'), 60);
    await assert.rejects(registry.createLease(lease('10.244.1.0/24'), 60), { code: 'SUBNET_TAKEN' });
    await registry.updateLease(created, 60);
    await registry.deleteLease(created);
    assert.deepEqual(['get_config', 'list', 'create', 'renew', 'delete'].map((op) => count(service, 'etcd', op)), [1, 1, 2, 1, 1]);
    assert.equal(errors(service, 'etcd', 'create', 'conflict'), 1);
    assert.ok((service.registry.histogramValue('flannel_registry_request_duration_seconds', { registry: 'etcd', op: 'list' })?.sum ?? 0) > 0);
  });

  it('a watch is timed until etcd confirms it; our abort is no restart, a compacted revision is', async () => {
    const revision = (await registry.listLeases()).revision;
    await registry.createLease(lease('10.244.2.0/24'), 60);
    assert.equal(await drain((signal) => registry.watchLeases(revision + 1n, signal), () => true), 'aborted');
    assert.equal(count(service, 'etcd', 'watch'), 1);
    assert.equal(restarts(service, 'etcd', 'closed') + restarts(service, 'etcd', 'error'), 0, 'aborted by us');
    await registry.createLease(lease('10.244.3.0/24'), 60);
    etcd.etcdctl(['compact', String((await registry.listLeases()).revision)]);
    assert.equal(await drain((signal) => registry.watchLeases(revision + 1n, signal), () => false), 'threw COMPACTED');
    assert.equal(restarts(service, 'etcd', 'compacted'), 1);
  });

  it('an unreachable etcd: the request is timed and counted as unavailable', async () => {
    const unreachable = new EtcdRegistry({ endpoints: ['http://127.0.0.1:1'], prefix: '/x', requestTimeoutMs: 500, metrics: service.metrics.registry });
    try {
      await assert.rejects(unreachable.getNetworkConfig(), { code: 'ETCD_UNAVAILABLE' });
      assert.equal(errors(service, 'etcd', 'get_config', 'unavailable'), 1);
    } finally {
      await unreachable.close();
    }
  });
});

describe('Kubernetes client metrics', () => {
  let server: FakeApiServer;
  let client: KubeClient;
  const service = createMetricsService({ version: 'test' });
  before(async () => {
    const store = new ClusterStore({ clusterCidr: Cidr.parse('10.244.0.0/16') });
    for (const name of ['a', 'b']) store.createNode({ metadata: { name } });
    server = await FakeApiServer.start({ store });
    const connection = await resolveKubeConnection({ apiUrl: server.url, kubeconfigFile: '', env: {}, readFile: readFileSync });
    client = new KubeClient({ connection, readFile: readFileSync, watchTimeoutSeconds: () => 30, metrics: service.metrics.registry });
  });
  after(async () => {
    await client.close();
    await server.close();
  });

  it('times list, get, update and watch; classifies a missing node as not_found', async () => {
    await client.listNodes();
    await client.getNode('a');
    await assert.rejects(client.getNode('zz'), { code: 'KUBE_NOT_FOUND' });
    await client.patchNodeStatus('a', '{"metadata":{"annotations":{"k":"v"}}}');
    assert.deepEqual(['list', 'get', 'update'].map((op) => count(service, 'kubernetes', op)), [1, 2, 1]);
    assert.equal(errors(service, 'kubernetes', 'get', 'not_found'), 1);
    const from = server.store.resourceVersion;
    const watched = drain((signal) => client.watchNodes(from, signal), () => true);
    await new Promise((resolve) => setTimeout(resolve, 50));
    server.store.createNode({ metadata: { name: 'c' } });
    assert.equal(await watched, 'aborted');
    assert.equal(count(service, 'kubernetes', 'watch'), 1);
    assert.equal(restarts(service, 'kubernetes', 'closed'), 0, 'aborted by us');
  });

  it('a watch on a compacted resourceVersion restarts as expired (ERROR event or HTTP 410); a cut stream as an error', async () => {
    const old = server.store.resourceVersion;
    server.store.patchNode('b', 'application/merge-patch+json', '{"metadata":{"labels":{"l":"1"}}}');
    server.store.compact();
    server.goneAs = 'event';
    // The caller ends the watch on the ERROR event, as the node watch does.
    assert.equal(await drain((signal) => client.watchNodes(old, signal), () => false), 'ended');
    server.goneAs = 'status';
    assert.equal(await drain((signal) => client.watchNodes(old, signal), () => false), 'threw KUBE_GONE');
    server.goneAs = 'event';
    assert.equal(restarts(service, 'kubernetes', 'expired'), 2);
    const cut = drain((signal) => client.watchNodes(server.store.resourceVersion, signal), () => false);
    await new Promise((resolve) => setTimeout(resolve, 50));
    server.dropWatches({ midEvent: true });
    assert.match(await cut, /^threw KUBE_/);
    assert.equal(restarts(service, 'kubernetes', 'error'), 1);
  });
});
