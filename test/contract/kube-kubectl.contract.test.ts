/**
 * kubectl (Debian's kubernetes-client, or whichever kubectl the machine has) as an independent client of the
 * fake API server: discovery, create, get, annotate (a strategic-merge PATCH), watch, delete, status PATCH where
 * kubectl has --subresource (≥ 1.24), and it sees what KubeSubnetManager wrote.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { FakeApiServer } from '../../src/adapters/kube/fake-apiserver.js';
import { KubeClient } from '../../src/adapters/kube/kube-client.js';
import { resolveKubeConnection } from '../../src/adapters/kube/kube-connection.js';
import { ClusterStore } from '../../src/kube-fake/cluster-store.js';
import { Cidr, IpAddress } from '../../src/net/ip.js';
import { kubeAnnotations } from '../../src/subnet/kube-annotations.js';
import { KubeSubnetManager } from '../../src/subnet/kube-subnet-manager.js';
import { silentLogger } from '../../src/support/logger.js';
import { assertInContractNetns } from '../support/contract-netns.js';
import { type KubePki, makeKubePki } from '../support/kube-pki.js';

assertInContractNetns();

let pki: KubePki;
let server: FakeApiServer;
let dir: string;
let kubeconfig: string;

/** kubectl, asynchronously: the fake server runs in this process and must keep answering. */
async function kubectl(...args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)('kubectl', ['--kubeconfig', kubeconfig, '--cache-dir', join(dir, 'cache'), '--request-timeout=10s', ...args], { encoding: 'utf8' });
  return stdout;
}

describe('kubectl against the fake API server', () => {
  before(async () => {
    pki = makeKubePki();
    dir = mkdtempSync(join(tmpdir(), 'flannel-ts-kubectl-'));
    server = await FakeApiServer.start({
      store: new ClusterStore({ clusterCidr: Cidr.parse('10.244.0.0/16'), clusterCidrV6: Cidr.parse('fd00:10:244::/56') }),
      tokens: ['kubectl-token'], tls: { cert: pki.read(pki.serverCertFile), key: pki.read(pki.serverKeyFile) },
    });
    kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, JSON.stringify({
      apiVersion: 'v1', kind: 'Config', 'current-context': 'fake',
      clusters: [{ name: 'fake', cluster: { server: server.url, 'certificate-authority-data': pki.read(pki.caFile).toString('base64') } }],
      users: [{ name: 'admin', user: { token: 'kubectl-token' } }],
      contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'admin' } }],
    }));
  });
  after(async () => {
    await server.close();
    pki.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates nodes; the controller-manager part gives them dual-stack pod CIDRs', async () => {
    for (const name of ['k1', 'k2']) {
      const file = join(dir, `${name}.json`);
      writeFileSync(file, JSON.stringify({ apiVersion: 'v1', kind: 'Node', metadata: { name, labels: { 'kubernetes.io/os': 'linux' } } }));
      assert.match(await kubectl('create', '--validate=false', '-f', file), new RegExp(`node/${name} created`));
    }
    assert.equal((await kubectl('get', 'nodes', '-o', 'jsonpath={range .items[*]}{.metadata.name}={.spec.podCIDRs}{"\\n"}{end}')).trim().replace(/\s+/g, ' '),
      'k1=["10.244.0.0/24","fd00:10:244::/64"] k2=["10.244.1.0/24","fd00:10:244:1::/64"]');
  });

  it('annotates a node (a PATCH) and reads it back', async () => {
    assert.match(await kubectl('annotate', 'node', 'k1', 'example.com/x=1'), /node\/k1 annotated/);
    assert.equal(await kubectl('get', 'node', 'k1', '-o', 'jsonpath={.metadata.annotations.example\\.com/x}'), '1');
    const patch = server.requests.filter((r) => r.method === 'PATCH').at(-1);
    assert.equal(patch?.path, '/api/v1/nodes/k1');
  });

  it('refuses to change a pod CIDR, as the API server does', async () => {
    await assert.rejects(kubectl('patch', 'node', 'k1', '-p', '{"spec":{"podCIDR":"10.244.9.0/24","podCIDRs":["10.244.9.0/24"]}}'),
      (error: { stderr: string }) => /node updates may not change podCIDR/.test(error.stderr));
  });

  it('watches: sees a change and a deletion, each with a new resourceVersion', async () => {
    const child: ChildProcess = spawn('kubectl', ['--kubeconfig', kubeconfig, '--cache-dir', join(dir, 'cache'), 'get', 'nodes', '--watch-only',
      '-o', 'jsonpath={.metadata.name} {.metadata.resourceVersion}{"\\n"}'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout?.on('data', (chunk) => (output += chunk));
    try {
      const deadline = Date.now() + 10_000;
      while (server.openWatches === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      server.store.patchNode('k2', 'application/strategic-merge-patch+json', '{"metadata":{"labels":{"seen":"yes"}}}');
      const modified = server.store.resourceVersion;
      server.store.deleteNode('k2');
      const deleted = server.store.resourceVersion;
      while (output.split('\n').length < 3 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      assert.deepEqual(output.trim().split('\n'), [`k2 ${modified}`, `k2 ${deleted}`]);
    } finally {
      child.kill('SIGTERM');
    }
  });

  it('sees the annotations KubeSubnetManager wrote', async () => {
    const connection = await resolveKubeConnection({ apiUrl: '', kubeconfigFile: kubeconfig, env: {}, readFile: (path) => readFileSync(path) });
    const api = new KubeClient({ connection, readFile: (path) => readFileSync(path) });
    const subnetManager = new KubeSubnetManager({
      api, nodeName: 'k1', annotations: kubeAnnotations('flannel.alpha.coreos.com'), logger: silentLogger(), setNodeNetworkUnavailable: true,
      readNetConfig: () => Promise.resolve('{"Network":"10.244.0.0/16","IPv6Network":"fd00:10:244::/56","EnableIPv6":true,"Backend":{"Type":"host-gw"}}'),
      eventQueueDepth: 10,
    });
    try {
      const lease = await subnetManager.acquireLease(await subnetManager.getNetworkConfig(), { publicIP: IpAddress.parse('198.18.0.1'), publicIPv6: IpAddress.parse('fd00::1'), backendType: 'host-gw' });
      await subnetManager.completeLease(lease, new AbortController().signal);
    } finally {
      await api.close();
    }
    const node = JSON.parse(await kubectl('get', 'node', 'k1', '-o', 'json')) as { metadata: { annotations: Record<string, string> }; status: { conditions: Array<Record<string, string>> } };
    const flannel = Object.fromEntries(Object.entries(node.metadata.annotations).filter(([key]) => key.startsWith('flannel.alpha.coreos.com/')));
    assert.deepEqual(flannel, {
      'flannel.alpha.coreos.com/backend-data': 'null', 'flannel.alpha.coreos.com/backend-type': 'host-gw',
      'flannel.alpha.coreos.com/backend-v6-data': 'null', 'flannel.alpha.coreos.com/kube-subnet-manager': 'true',
      'flannel.alpha.coreos.com/public-ip': '198.18.0.1', 'flannel.alpha.coreos.com/public-ipv6': 'fd00::1',
    });
    assert.deepEqual(node.status.conditions.map((c) => `${c.type}=${c.status} ${c.reason}`), ['NetworkUnavailable=False FlannelIsUp']);
  });

  it('patches node status with --subresource (kubectl ≥ 1.24 only)', async (t) => {
    if (!/--subresource/.test(await kubectl('patch', '--help'))) {
      t.skip('this kubectl has no --subresource (Debian\'s 1.20); the status path is covered by our client\'s contract test');
      return;
    }
    await kubectl('patch', 'node', 'k1', '--subresource=status', '--type=strategic', '-p', '{"status":{"conditions":[{"type":"Ready","status":"True"}]},"spec":{"unschedulable":true}}');
    const node = JSON.parse(await kubectl('get', 'node', 'k1', '-o', 'json')) as { spec: Record<string, unknown>; status: { conditions: Array<Record<string, string>> } };
    assert.deepEqual(node.status.conditions.map((c) => c.type), ['NetworkUnavailable', 'Ready'], 'merged by type');
    assert.equal(node.spec.unschedulable, undefined, 'spec ignored on /status');
  });

  it('deletes a node', async () => {
    assert.match(await kubectl('delete', 'node', 'k1'), /node "k1" deleted/);
    assert.equal((await kubectl('get', 'nodes', '-o', 'name')).trim(), '');
  });
});
