/**
 * The fake API server against our client, over TLS: list (paged), watch (resume, bookmarks, 410 both ways,
 * a stream cut mid-event), PATCH (strategic merge on /status, 415, JSON patch that is not an array), auth
 * (tokens, rotated token files, client certificates from a kubeconfig, in-cluster files).
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FakeApiServer } from '../../src/adapters/kube/fake-apiserver.js';
import { KubeClient } from '../../src/adapters/kube/kube-client.js';
import { resolveKubeConnection } from '../../src/adapters/kube/kube-connection.js';
import { ClusterStore } from '../../src/kube-fake/cluster-store.js';
import { Cidr } from '../../src/net/ip.js';
import type { NodeWatchEvent } from '../../src/subnet/kube-api.js';
import { assertInContractNetns } from '../support/contract-netns.js';
import { type KubePki, makeKubePki } from '../support/kube-pki.js';

assertInContractNetns();

let pki: KubePki;
let server: FakeApiServer;
let client: KubeClient;

async function clientFor(token = 'secret', extra: Partial<Parameters<typeof resolveKubeConnection>[0]> = {}): Promise<KubeClient> {
  const kubeconfig = join(pki.dir, `kubeconfig-${token}.yaml`);
  writeFileSync(kubeconfig, [
    'apiVersion: v1', 'kind: Config', 'current-context: fake',
    'clusters:', `- name: fake`, `  cluster:`, `    server: ${server.url}`, `    certificate-authority: ca.crt`,
    'users:', '- name: flannel', '  user:', `    token: ${token}`,
    'contexts:', '- name: fake', '  context: {cluster: fake, user: flannel}', '',
  ].join('\n'));
  const connection = await resolveKubeConnection({ apiUrl: '', kubeconfigFile: kubeconfig, env: {}, readFile: (path) => readFileSync(path), ...extra });
  return new KubeClient({ connection, readFile: (path) => readFileSync(path), listPageSize: 2, watchTimeoutSeconds: () => 30 });
}

/** Collects watch events until `count` arrived or the stream ends; returns them and how it ended. */
async function watchFor(from: string, count: number, act: () => void | Promise<void> = () => undefined): Promise<{ events: NodeWatchEvent[]; ended: string }> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), 5000);
  const events: NodeWatchEvent[] = [];
  let ended = 'count';
  try {
    const iterator = client.watchNodes(from, controller.signal)[Symbol.asyncIterator]();
    const first = iterator.next();
    first.catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await act();
    for (let next = await first; ; next = await iterator.next()) {
      if (next.done) {
        ended = controller.signal.aborted ? 'timeout' : 'end';
        break;
      }
      events.push(next.value);
      if (events.length >= count) break;
    }
  } catch (error) {
    ended = `error ${(error as { code?: string }).code}: ${(error as Error).message}`;
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
  return { events, ended };
}

const nodeNames = (events: NodeWatchEvent[]) => events.map((event) => ('node' in event ? `${event.type} ${event.node.name}@${event.node.resourceVersion}` : event.type));

describe('fake API server vs our client', () => {
  before(async () => {
    pki = makeKubePki();
    const store = new ClusterStore({ clusterCidr: Cidr.parse('10.244.0.0/16') });
    for (const name of ['a', 'b', 'c']) store.createNode({ metadata: { name } });
    store.createPod('kube-flannel', { metadata: { name: 'kube-flannel-ds-x' }, spec: { nodeName: 'b' } });
    server = await FakeApiServer.start({
      store, tokens: ['secret'],
      tls: { cert: pki.read(pki.serverCertFile), key: pki.read(pki.serverKeyFile), clientCa: pki.read(pki.caFile) },
    });
    client = await clientFor();
  });
  after(async () => {
    await client.close();
    await server.close();
    pki.remove();
  });

  it('lists every node across pages, with the list resourceVersion', async () => {
    const before = server.requests.length;
    const list = await client.listNodes();
    assert.deepEqual(list.nodes.map((node) => `${node.name} ${node.podCIDR}`), ['a 10.244.0.0/24', 'b 10.244.1.0/24', 'c 10.244.2.0/24']);
    assert.equal(list.resourceVersion, server.store.resourceVersion);
    const pages = server.requests.slice(before).map((r) => r.query);
    assert.deepEqual(pages.map((query) => query.replace(/continue=[^&]+/, 'continue=…')), ['?limit=2', '?limit=2&continue=…']);
  });

  it('gets a node and a pod\'s node name', async () => {
    assert.equal((await client.getNode('b', { resourceVersion: '0' })).podCIDR, '10.244.1.0/24');
    assert.equal(await client.getPodNodeName('kube-flannel', 'kube-flannel-ds-x'), 'b');
    await assert.rejects(client.getNode('zz'), { code: 'KUBE_NOT_FOUND', message: /GET \/api\/v1\/nodes\/zz: 404 NotFound: nodes "zz" not found/ });
  });

  it('watches from a resourceVersion: create, patch, delete in order, each with its resourceVersion', async () => {
    const from = server.store.resourceVersion;
    const { events } = await watchFor(from, 4, () => {
      server.store.createNode({ metadata: { name: 'd' } });
      server.store.patchNode('d', 'application/strategic-merge-patch+json', '{"metadata":{"annotations":{"x":"1"}}}', 'status');
      server.store.deleteNode('d');
    });
    const base = Number(from);
    assert.deepEqual(nodeNames(events), [`ADDED d@${base + 1}`, `MODIFIED d@${base + 2}`, `MODIFIED d@${base + 3}`, `DELETED d@${base + 4}`]);
    const modified = events[2];
    assert.equal(modified && 'node' in modified ? modified.node.annotations.x : undefined, '1');
  });

  it('replays what happened after the resourceVersion it resumes from', async () => {
    const from = server.store.resourceVersion;
    server.store.patchNode('a', 'application/merge-patch+json', '{"metadata":{"labels":{"l":"1"}}}');
    const { events } = await watchFor(from, 1);
    assert.deepEqual(nodeNames(events), [`MODIFIED a@${Number(from) + 1}`]);
  });

  it('a compacted resourceVersion: ERROR 410 event, then the stream ends', async () => {
    const old = server.store.resourceVersion;
    server.store.patchNode('a', 'application/merge-patch+json', '{"metadata":{"labels":{"l":"2"}}}');
    server.store.compact();
    server.goneAs = 'event';
    const { events, ended } = await watchFor(old, 5);
    assert.deepEqual(events.map((e) => (e.type === 'ERROR' ? `ERROR ${e.code} ${e.reason}` : e.type)), ['ERROR 410 Expired']);
    assert.equal(ended, 'end');
  });

  it('a compacted resourceVersion: HTTP 410', async () => {
    const old = String(Number(server.store.resourceVersion) - 1);
    server.goneAs = 'status';
    const { ended } = await watchFor(old, 1);
    server.goneAs = 'event';
    assert.match(ended, /^error KUBE_GONE: GET \/api\/v1\/nodes\?.*: 410 Expired: too old resource version/);
  });

  it('sends bookmarks only to watches that allow them (and our client asks)', async () => {
    const bookmarked = await FakeApiServer.start({ store: server.store, bookmarkIntervalMs: 30 });
    try {
      const plain = new KubeClient({ connection: await resolveKubeConnection({ apiUrl: bookmarked.url, kubeconfigFile: '', env: {}, readFile: readFileSync }), readFile: readFileSync });
      const controller = new AbortController();
      const seen: NodeWatchEvent[] = [];
      for await (const event of plain.watchNodes(server.store.resourceVersion, controller.signal)) {
        seen.push(event);
        if (seen.length === 2) break;
      }
      controller.abort();
      await plain.close();
      assert.deepEqual(seen, [{ type: 'BOOKMARK', resourceVersion: server.store.resourceVersion }, { type: 'BOOKMARK', resourceVersion: server.store.resourceVersion }]);
      assert.match(bookmarked.requests.at(-1)?.query ?? '', /allowWatchBookmarks=true/);
    } finally {
      await bookmarked.close();
    }
  });

  it('a stream cut in the middle of an event fails the watch and drops the half event', async () => {
    const { events, ended } = await watchFor(server.store.resourceVersion, 1, () => {
      assert.equal(server.dropWatches({ midEvent: true }), 1);
    });
    assert.deepEqual(events, []);
    assert.match(ended, /^error KUBE_UNREACHABLE: GET \/api\/v1\/nodes\?.*watch stream broke/);
  });

  it('patches node status with a strategic merge: annotations set, conditions merged by type, spec ignored, one MODIFIED', async () => {
    server.store.patchNode('b', 'application/strategic-merge-patch+json', '{"status":{"conditions":[{"type":"Ready","status":"True"},{"type":"NetworkUnavailable","status":"True"}]}}', 'status');
    const from = server.store.resourceVersion;
    const { events } = await watchFor(from, 1, async () => {
      const node = await client.patchNodeStatus('b', '{"metadata":{"annotations":{"k":"v"}},"spec":{"podCIDR":"10.99.0.0/24"},"status":{"conditions":[{"type":"NetworkUnavailable","status":"False","reason":"FlannelIsUp"}]}}');
      assert.equal(node.annotations.k, 'v');
      assert.equal(node.podCIDR, '10.244.1.0/24');
      assert.equal(node.resourceVersion, String(Number(from) + 1));
    });
    assert.deepEqual(nodeNames(events), [`MODIFIED b@${Number(from) + 1}`]);
    assert.deepEqual((server.store.getNode('b').status as { conditions: unknown }).conditions, [
      { type: 'Ready', status: 'True' }, { type: 'NetworkUnavailable', status: 'False', reason: 'FlannelIsUp' },
    ]);
    const sent = [...server.requests].reverse().find((r) => r.method === "PATCH");
    assert.equal(sent?.path, '/api/v1/nodes/b/status');
    assert.equal(sent?.contentType, 'application/strategic-merge-patch+json');
  });

  it('a patch that changes nothing writes nothing', async () => {
    const before = server.store.resourceVersion;
    const node = await client.patchNodeStatus('b', '{"metadata":{"annotations":{"k":"v"}}}');
    assert.equal(node.resourceVersion, server.store.getNode('b').metadata && (server.store.getNode('b').metadata as { resourceVersion: string }).resourceVersion);
    assert.equal(server.store.resourceVersion, before);
  });

  it('refuses other media types (415) and a JSON patch that is not an array (400)', async () => {
    const raw = (contentType: string, body: string) => new Promise<{ status: number; body: string }>((resolve, reject) => {
      const url = new URL('/api/v1/nodes/b/status', server.url);
      const req = request(url, { method: 'PATCH', ca: pki.read(pki.caFile), headers: { authorization: 'Bearer secret', 'content-type': contentType } }, (response) => {
        let text = '';
        response.on('data', (chunk) => (text += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text }));
      });
      req.on('error', reject);
      req.end(body);
    });
    const json = await raw('application/json', '{"metadata":{}}');
    assert.equal(json.status, 415);
    assert.match(json.body, /"reason":"UnsupportedMediaType"/);
    const notArray = await raw('application/json-patch+json', '{"metadata":{"annotations":{"k":"w"}}}');
    assert.equal(notArray.status, 400);
    assert.match(notArray.body, /cannot unmarshal object into Go value of type \[\]handlers.jsonPatchOp/);
    const array = await raw('application/json-patch+json', '[{"op":"replace","path":"/metadata/annotations/k","value":"w"}]');
    assert.equal(array.status, 200);
    assert.equal((server.store.getNode('b').metadata as { annotations: Record<string, string> }).annotations.k, 'w');
  });

  it('says clearly when the token is refused', async () => {
    const wrong = await clientFor('wrong');
    try {
      await assert.rejects(wrong.listNodes(), {
        code: 'KUBE_UNAUTHORIZED',
        message: /GET \/api\/v1\/nodes\?limit=2: 401 Unauthorized: Unauthorized \(the API server refused our credentials: check the service-account token or the kubeconfig user\)/,
      });
    } finally {
      await wrong.close();
    }
  });

  it('re-reads a rotated token file after a 401 (in-cluster files)', async () => {
    const dir = join(pki.dir, 'sa');
    (await import('node:fs')).mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'token'), 'old-token\n');
    writeFileSync(join(dir, 'ca.crt'), pki.read(pki.caFile));
    server.setTokens(['secret', 'old-token']);
    const port = new URL(server.url).port;
    const connection = await resolveKubeConnection({ apiUrl: '', kubeconfigFile: '', env: { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: port }, readFile: readFileSync, serviceAccountDir: dir });
    assert.equal(connection.source, 'in-cluster');
    const inCluster = new KubeClient({ connection, readFile: readFileSync });
    try {
      assert.equal((await inCluster.getNode('a')).name, 'a');
      server.setTokens(['secret', 'new-token']);
      writeFileSync(join(dir, 'token'), 'new-token\n');
      assert.equal((await inCluster.getNode('a')).name, 'a');
      const lastTwo = server.requests.slice(-2).map((r) => r.user);
      assert.deepEqual(lastTwo, ['', 'token:new-to…']);
    } finally {
      server.setTokens(['secret']);
      await inCluster.close();
    }
  });

  it('authenticates with a client certificate from a kubeconfig (relative file paths)', async () => {
    const kubeconfig = join(pki.dir, 'cert-kubeconfig.yaml');
    writeFileSync(kubeconfig, `apiVersion: v1
kind: Config
current-context: node
clusters:
- name: fake
  cluster:
    server: https://localhost:1
    certificate-authority-data: ${pki.read(pki.caFile).toString('base64')}
users:
- name: n1
  user:
    client-certificate: node-n1.crt
    client-key: node-n1.key
contexts:
- name: node
  context:
    cluster: fake
    user: n1
`);
    // --kube-api-url replaces the kubeconfig's server and keeps its CA and user (BuildConfigFromFlags).
    const connection = await resolveKubeConnection({ apiUrl: server.url, kubeconfigFile: kubeconfig, env: {}, readFile: readFileSync });
    const certClient = new KubeClient({ connection, readFile: readFileSync });
    try {
      assert.equal((await certClient.getNode('c')).name, 'c');
      assert.equal(server.requests.at(-1)?.user, 'cert:node-n1');
    } finally {
      await certClient.close();
    }
  });

  it('reports injected server errors as retryable API errors', async () => {
    server.failNext(1, 503, 1);
    await assert.rejects(client.getNode('a'), { code: 'KUBE_API', retryable: true, message: /503 InternalError: injected failure 503/ });
    assert.equal((await client.getNode('a')).name, 'a');
  });
});
