/**
 * KubeSubnetManager over our client against the fake API server: acquiring (upstream's patch body, sent once),
 * the lease stream (node added / changed / deleted, a node deleted while the watch was down and its history
 * compacted), a node without a pod CIDR until the controller-manager part assigns one, a refused token,
 * NetworkUnavailable, stored public IPs and VTEP MACs, alloc without a node watch, node name from the pod.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { FakeApiServer } from '../../src/adapters/kube/fake-apiserver.js';
import { KubeClient } from '../../src/adapters/kube/kube-client.js';
import { resolveKubeConnection } from '../../src/adapters/kube/kube-connection.js';
import { kubeEnvOptions } from '../../src/config/kube-options.js';
import { ClusterStore } from '../../src/kube-fake/cluster-store.js';
import { type LeaseAttrs, leaseKey } from '../../src/lease/lease.js';
import type { LeaseWatchResult } from '../../src/lease/lease-tracker.js';
import { Cidr, IpAddress } from '../../src/net/ip.js';
import { kubeAnnotations } from '../../src/subnet/kube-annotations.js';
import { resolveNodeName } from '../../src/subnet/kube-node-name.js';
import { annotationPatch, networkUnavailablePatch } from '../../src/subnet/kube-patches.js';
import { KubeSubnetManager } from '../../src/subnet/kube-subnet-manager.js';
import type { MalformedEntry } from '../../src/subnet/registry.js';
import { silentLogger } from '../../src/support/logger.js';
import { Backoff } from '../../src/support/timing.js';
import { assertInContractNetns } from '../support/contract-netns.js';

assertInContractNetns();

const P = 'flannel.alpha.coreos.com/';
const names = kubeAnnotations('flannel.alpha.coreos.com');
const NET_CONF = '{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}}';
const attrs = (index: number): LeaseAttrs => ({
  publicIP: IpAddress.parse(`198.18.0.${index}`), backendType: 'vxlan', backendData: { VNI: 1, VtepMAC: `0a:58:c6:12:00:0${index}` },
});
const peerAnnotations = (index: number) => ({
  [`${P}kube-subnet-manager`]: 'true', [`${P}backend-type`]: 'vxlan', [`${P}public-ip`]: `198.18.0.${index}`,
  [`${P}backend-data`]: `{"VNI":1,"VtepMAC":"0a:58:c6:12:00:0${index}"}`,
});

let server: FakeApiServer;
const clients: KubeClient[] = [];

async function manager(options: { token?: string; netConf?: string; node?: string; now?: () => number } = {}): Promise<KubeSubnetManager> {
  const connection = await resolveKubeConnection({ apiUrl: server.url, kubeconfigFile: '', env: {}, readFile: readFileSync });
  // Plain http carries no credentials (as client-go); for the token case talk to the server through a fake
  // connection that does send one.
  const api = new KubeClient({ connection: { ...connection, credentials: { bearerToken: options.token ?? 'secret' } }, readFile: readFileSync, watchTimeoutSeconds: () => 30 });
  clients.push(api);
  return new KubeSubnetManager({
    api, nodeName: options.node ?? 'n1', annotations: names, readNetConfig: () => Promise.resolve(options.netConf ?? NET_CONF),
    logger: silentLogger(), setNodeNetworkUnavailable: true, eventQueueDepth: 100,
    retry: { intervalMs: 50, timeoutMs: 500 }, watchBackoff: () => new Backoff(20, 100), ...(options.now ? { now: options.now } : {}),
  });
}

/** Reads the lease stream in the background. */
function follow(subnetManager: KubeSubnetManager) {
  const controller = new AbortController();
  const results: LeaseWatchResult[] = [];
  const malformed: MalformedEntry[] = [];
  const done = (async () => {
    for await (const result of subnetManager.watchLeases(controller.signal, (entry) => malformed.push(entry))) results.push(result);
  })();
  return {
    results, malformed,
    async until(predicate: () => boolean, what: string): Promise<void> {
      const deadline = Date.now() + 5000;
      while (!predicate()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(results.map(show))}`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
    async stop() {
      controller.abort();
      await done;
    },
  };
}

function show(result: LeaseWatchResult): string {
  if (result.kind === 'snapshot') return `snapshot ${result.leases.map((l) => `${leaseKey(l)}@${l.attrs.publicIP}`).sort().join(' ')}`;
  return `events ${result.events.map((e) => (e.type === 'added' ? `+${leaseKey(e.lease)}@${e.lease.attrs.publicIP}` : `-${leaseKey(e)}`)).join(' ')}`;
}

describe('KubeSubnetManager against the fake API server', () => {
  before(async () => {
    const store = new ClusterStore({ clusterCidr: Cidr.parse('10.244.0.0/16') });
    store.createNode({ metadata: { name: 'n1', annotations: { 'node.alpha.kubernetes.io/ttl': '0' } } });
    store.createNode({ metadata: { name: 'n2', annotations: peerAnnotations(2) } });
    store.createNode({ metadata: { name: 'n3', annotations: peerAnnotations(3) } });
    store.createNode({ metadata: { name: 'unmanaged' } });
    store.createPod('kube-flannel', { metadata: { name: 'kube-flannel-ds-abc' }, spec: { nodeName: 'n1' } });
    server = await FakeApiServer.start({ store, tokens: ['secret'] });
  });
  after(async () => {
    for (const client of clients) await client.close();
    await server.close();
  });

  it('acquires the node\'s pod CIDR and patches upstream\'s annotation body onto nodes/n1/status, once', async () => {
    const subnetManager = await manager();
    const config = await subnetManager.getNetworkConfig();
    const expected = annotationPatch({ name: 'n1', resourceVersion: '', annotations: { 'node.alpha.kubernetes.io/ttl': '0' }, podCIDR: '', podCIDRs: [] }, attrs(1), names);
    const lease = await subnetManager.acquireLease(config, attrs(1));
    assert.equal(lease.subnet.toString(), '10.244.0.0/24');
    assert.equal(lease.expiresAtMs, undefined, 'Kubernetes leases never expire');
    const patches = server.requests.filter((r) => r.method === 'PATCH');
    assert.equal(patches.length, 1);
    assert.deepEqual([patches[0]?.path, patches[0]?.contentType, patches[0]?.body], ['/api/v1/nodes/n1/status', 'application/strategic-merge-patch+json', expected]);
    assert.equal((server.store.getNode('n1').metadata as { annotations: Record<string, string> }).annotations[`${P}kube-subnet-manager`], 'true');
    // A restart with the same attributes sends nothing; renewing costs no request either.
    const again = await manager();
    await again.acquireLease(await again.getNetworkConfig(), attrs(1));
    const before = server.requests.length;
    assert.equal(await again.renewLease(lease), lease);
    assert.equal(server.requests.length, before);
    assert.equal(server.requests.filter((r) => r.method === 'PATCH').length, 1);
  });

  it('streams peers: a snapshot, then added / changed / deleted nodes', async () => {
    const subnetManager = await manager();
    await subnetManager.acquireLease(await subnetManager.getNetworkConfig(), attrs(1));
    const stream = follow(subnetManager);
    try {
      await stream.until(() => stream.results.length >= 1, 'the first snapshot');
      assert.equal(show(stream.results[0] as LeaseWatchResult), 'snapshot 10.244.0.0-24@198.18.0.1 10.244.1.0-24@198.18.0.2 10.244.2.0-24@198.18.0.3');
      server.store.createNode({ metadata: { name: 'n4', annotations: peerAnnotations(4) } });
      await stream.until(() => stream.results.some((r) => show(r).includes('+10.244.4.0-24@198.18.0.4')), 'n4 added');
      server.store.patchNode('n4', 'application/strategic-merge-patch+json', `{"metadata":{"annotations":{"${P}public-ip":"198.18.0.44"}}}`, 'status');
      await stream.until(() => stream.results.some((r) => show(r).includes('+10.244.4.0-24@198.18.0.44')), 'n4 changed');
      server.store.deleteNode('n4');
      await stream.until(() => stream.results.some((r) => show(r) === 'events -10.244.4.0-24'), 'n4 deleted');
      server.store.patchNode('n2', 'application/strategic-merge-patch+json', `{"metadata":{"annotations":{"${P}public-ip":"not-an-ip"}}}`, 'status');
      await stream.until(() => stream.malformed.some((entry) => entry.key === 'node/n2'), 'the bad node reported');
      // n4 was also reported while it had no pod CIDR yet (created, then given one by the controller-manager part).
      assert.deepEqual(stream.malformed.filter((entry) => entry.key === 'node/n2'), [{ key: 'node/n2', reason: 'invalid IP address format' }]);
      server.store.patchNode('n2', 'application/strategic-merge-patch+json', `{"metadata":{"annotations":{"${P}public-ip":"198.18.0.2"}}}`, 'status');
    } finally {
      await stream.stop();
    }
  });

  for (const [index, goneAs] of (['event', 'status'] as const).entries()) {
    it(`a node deleted while the watch was down, its history compacted (410 as ${goneAs}): re-list, only that node goes`, async () => {
      server.goneAs = goneAs;
      const victim = `victim-${goneAs}`;
      const late = `late-${goneAs}`;
      server.store.createNode({ metadata: { name: victim, annotations: peerAnnotations(6 + index) } });
      const subnetManager = await manager();
      await subnetManager.acquireLease(await subnetManager.getNetworkConfig(), attrs(1));
      const stream = follow(subnetManager);
      try {
        await stream.until(() => stream.results.length >= 1 && server.openWatches === 1, 'a running watch');
        const first = stream.results[0] as LeaseWatchResult & { kind: 'snapshot' };
        const victimLease = first.leases.find((l) => l.attrs.publicIP.toString() === `198.18.0.${6 + index}`);
        assert.ok(victimLease);
        server.failNext(3, 503);
        server.dropWatches();
        server.store.createNode({ metadata: { name: late, annotations: peerAnnotations(8 + index) } });
        server.store.deleteNode(victim);
        server.store.compact();
        await stream.until(() => stream.results.filter((r) => r.kind === 'snapshot').length >= 2, 'a second snapshot');
        const second = stream.results.filter((r) => r.kind === 'snapshot')[1] as LeaseWatchResult & { kind: 'snapshot' };
        const expected = first.leases.filter((l) => l !== victimLease).map((l) => leaseKey(l));
        const lateLease = second.leases.find((l) => l.attrs.publicIP.toString() === `198.18.0.${8 + index}`);
        assert.ok(lateLease, show(second));
        assert.deepEqual(second.leases.filter((l) => l !== lateLease).map((l) => leaseKey(l)).sort(), expected.sort());
        // Unchanged peers keep their lease objects: nothing downstream sees them change.
        for (const lease of second.leases) if (lease !== lateLease) assert.ok(first.leases.includes(lease), leaseKey(lease));
        assert.equal(stream.results.filter((r) => r.kind === 'events').length, 0, 'nothing streamed while the watch was down');
        server.store.patchNode(late, 'application/strategic-merge-patch+json', `{"metadata":{"annotations":{"${P}public-ip":"198.18.0.${18 + index}"}}}`, 'status');
        await stream.until(() => stream.results.some((r) => r.kind === 'events' && show(r).includes(`@198.18.0.${18 + index}`)), 'watching again after the re-list');
      } finally {
        server.goneAs = 'event';
        await stream.stop();
      }
    });
  }

  it('a node without a pod CIDR: a clear, retryable error until the controller-manager part assigns one', async () => {
    const delayed = await FakeApiServer.start({ store: server.store, tokens: ['secret'], podCidrDelayMs: 400 });
    try {
      const connection = await resolveKubeConnection({ apiUrl: delayed.url, kubeconfigFile: '', env: {}, readFile: readFileSync });
      const api = new KubeClient({ connection: { ...connection, credentials: { bearerToken: 'secret' } }, readFile: readFileSync });
      clients.push(api);
      const subnetManager = new KubeSubnetManager({
        api, nodeName: 'late', annotations: names, readNetConfig: () => Promise.resolve(NET_CONF), logger: silentLogger(),
        setNodeNetworkUnavailable: true, eventQueueDepth: 10, retry: { intervalMs: 50, timeoutMs: 200 },
      });
      const config = await subnetManager.getNetworkConfig();
      await fetch(`${delayed.url}/api/v1/nodes`, { method: 'POST', headers: { authorization: 'Bearer secret' }, body: JSON.stringify({ metadata: { name: 'late' } }) });
      const errors: string[] = [];
      let lease;
      // The daemon's acquire loop: retry what is retryable.
      for (let attempt = 0; attempt < 40 && !lease; attempt++) {
        try {
          lease = await subnetManager.acquireLease(config, attrs(7));
        } catch (error) {
          const { code, retryable, message } = error as { code: string; retryable: boolean; message: string };
          assert.equal(retryable, true, message);
          errors.push(`${code}: ${message}`);
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
      assert.ok(errors.length > 0);
      assert.equal(errors[0], 'POD_CIDR_NOT_ASSIGNED: node "late" pod cidr not assigned');
      assert.match(lease?.subnet.toString() ?? '', /^10\.244\.\d+\.0\/24$/);
    } finally {
      await delayed.close();
    }
  });

  it('a refused token fails at once with a clear error (no 30 s of retries)', async () => {
    const subnetManager = await manager({ token: 'wrong' });
    const started = Date.now();
    await assert.rejects(subnetManager.acquireLease(await subnetManager.getNetworkConfig(), attrs(1)),
      { code: 'KUBE_UNAUTHORIZED', message: /401 Unauthorized: Unauthorized \(the API server refused our credentials/ });
    assert.ok(Date.now() - started < 400, 'not retried until the timeout');
  });

  it('completeLease sets NetworkUnavailable=False (FlannelIsUp), upstream\'s body', async () => {
    const subnetManager = await manager({ now: () => 1709618889987 });
    const lease = await subnetManager.acquireLease(await subnetManager.getNetworkConfig(), attrs(1));
    await subnetManager.completeLease(lease, new AbortController().signal);
    const sent = server.requests.filter((r) => r.method === 'PATCH').at(-1);
    assert.deepEqual([sent?.path, sent?.contentType, sent?.body], ['/api/v1/nodes/n1/status', 'application/strategic-merge-patch+json', networkUnavailablePatch(1709618889987)]);
    assert.deepEqual((server.store.getNode('n1').status as { conditions: unknown[] }).conditions, [{
      type: 'NetworkUnavailable', status: 'False', lastHeartbeatTime: '2024-03-05T06:08:09Z', lastTransitionTime: '2024-03-05T06:08:09Z',
      reason: 'FlannelIsUp', message: 'Flannel is running on this node',
    }]);
  });

  it('reads the stored public IPs and VTEP MAC of our node', async () => {
    server.store.patchNode('n1', 'application/merge-patch+json', `{"metadata":{"annotations":{"${P}node-public-ip":"203.0.113.9"}}}`);
    const subnetManager = await manager();
    assert.deepEqual(await subnetManager.storedPublicIPs(), { publicIP: '203.0.113.9', publicIPv6: '' });
    assert.deepEqual(Object.fromEntries(Object.entries(await subnetManager.storedVtepMacs()).map(([k, v]) => [k, String(v)])), { v4: '0a:58:c6:12:00:01' });
  });

  it('alloc: our lease only, no node list or watch', async () => {
    const subnetManager = await manager({ netConf: '{"Network":"10.244.0.0/16","Backend":{"Type":"alloc"}}' });
    const lease = await subnetManager.acquireLease(await subnetManager.getNetworkConfig(), { publicIP: IpAddress.parse('198.18.0.1'), backendType: '' });
    assert.match(server.requests.at(-2)?.query ?? server.requests.at(-1)?.query ?? '', /resourceVersion=0/);
    const before = server.requests.length;
    const stream = follow(subnetManager);
    await stream.until(() => stream.results.length === 1, 'one snapshot');
    await new Promise((resolve) => setTimeout(resolve, 100));
    await stream.stop();
    assert.deepEqual(stream.results, [{ kind: 'snapshot', leases: [lease] }]);
    assert.equal(server.requests.length, before);
  });

  it('finds the node name through POD_NAMESPACE/POD_NAME, with upstream\'s errors', async () => {
    const connection = await resolveKubeConnection({ apiUrl: server.url, kubeconfigFile: '', env: {}, readFile: readFileSync });
    const api = new KubeClient({ connection: { ...connection, credentials: { bearerToken: 'secret' } }, readFile: readFileSync });
    clients.push(api);
    const retry = { intervalMs: 20, timeoutMs: 100, now: Date.now };
    assert.equal(await resolveNodeName(kubeEnvOptions({ NODE_NAME: 'given' }), api, retry), 'given');
    assert.equal(await resolveNodeName(kubeEnvOptions({ POD_NAME: 'kube-flannel-ds-abc', POD_NAMESPACE: 'kube-flannel' }), api, retry), 'n1');
    await assert.rejects(resolveNodeName(kubeEnvOptions({ POD_NAME: 'x' }), api, retry), { message: 'env variables POD_NAME and POD_NAMESPACE must be set' });
    await assert.rejects(resolveNodeName(kubeEnvOptions({ POD_NAME: 'nope', POD_NAMESPACE: 'kube-flannel' }), api, retry),
      { message: /^error retrieving pod spec for 'kube-flannel\/nope': cannot read pod kube-flannel\/nope\. Error: GET \/api\/v1\/namespaces\/kube-flannel\/pods\/nope: 404 NotFound: pods "nope" not found$/ });
  });
});
