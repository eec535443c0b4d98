/**
 * Kubernetes mode end to end, on one Kubernetes lab (lab-kube.ts): the fake API server in its own namespace,
 * three hosts whose flanneld reach it by kubeconfig (h1), in-cluster (h2) and from the built image under podman
 * (h3). Pods through our CNI plugin ping each other; the node annotations and condition are upstream's; nodes
 * added, changed and deleted in the API reach every host's routes; the API server restarted with its history
 * gone (a node deleted meanwhile) costs no ping and no route but the deleted node's; a node without a pod CIDR
 * and a refused token are clear errors that flanneld outlives; and no lease is ever renewed. Times measured
 * are printed as test diagnostics.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { JsonObject } from '../../src/lab/lab-kube-admin.js';
import type { LabHost } from '../../src/lab/lab-layout.js';
import { inNetns, processAlive, run } from '../../src/lab/shell.js';
import { sleep } from '../../src/support/timing.js';
import { labForSuite } from '../support/lab-suite.js';

const lab = labForSuite({ prefix: 'ftkube', hosts: 3, backend: 'vxlan', kube: true });
const kube = () => lab.kube as NonNullable<typeof lab.kube>;
const [h1, h2, h3] = lab.layout.hosts as [LabHost, LabHost, LabHost];
const P = 'flannel.alpha.coreos.com/';

/** Polls `condition` every 100 ms; returns how long it took, fails after `timeoutMs` with `detail()`. */
async function until(what: string, condition: () => boolean | Promise<boolean>, timeoutMs: number, detail: () => string = () => ''): Promise<number> {
  const started = Date.now();
  while (!(await condition())) {
    if (Date.now() - started > timeoutMs) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}\n${detail()}`);
    await sleep(100);
  }
  return Date.now() - started;
}

function routes(host: LabHost): string {
  return inNetns(host.netns, 'ip', ['-4', 'route', 'show', 'proto', '111']).stdout.split('\n').map((line) => line.trim()).filter(Boolean).join('\n');
}

function fdb(host: LabHost): string {
  return inNetns(host.netns, 'bridge', ['fdb', 'show', 'dev', 'flannel.1']).stdout.trim();
}

function vtepMac(host: LabHost): string {
  return (JSON.parse(inNetns(host.netns, 'ip', ['-j', 'link', 'show', 'flannel.1']).stdout) as Array<{ address: string }>)[0]?.address ?? '';
}

/** /readyz of a host's flanneld, asked from inside its namespace (0: no answer). */
function readyz(host: LabHost): number {
  const script = `require('node:http').get({ host: '${host.underlayIp}', port: ${host.healthzPort}, path: '/readyz', timeout: 1000 },
    (r) => { console.log(r.statusCode); r.resume(); }).on('error', () => console.log(0)).on('timeout', function () { this.destroy(); });`;
  return Number(inNetns(host.netns, process.execPath, ['-e', script], { allowFailure: true }).stdout.trim()) || 0;
}

function log(host: LabHost): string {
  return lab.flanneldLog(host);
}

/** Restarts a host's flanneld; `before` runs while it is stopped. */
async function restart(host: LabHost, before: () => void | Promise<void> = () => undefined): Promise<void> {
  await lab.stopFlanneld(host);
  writeFileSync(join(lab.hostDir(host), 'flanneld.log'), '');
  await before();
  lab.startFlanneld(host);
}

/** A Node as another flanneld would have left it (it has no host here: only its routes matter). */
function peerNode(name: string, octet: number, publicIP: string): JsonObject {
  return {
    metadata: {
      name, annotations: {
        [`${P}kube-subnet-manager`]: 'true', [`${P}backend-type`]: 'vxlan', [`${P}public-ip`]: publicIP,
        [`${P}backend-data`]: `{"VNI":1,"VtepMAC":"0a:58:0a:f4:${octet.toString(16).padStart(2, '0')}:01"}`,
      },
    },
    spec: { podCIDR: `10.244.${octet}.0/24`, podCIDRs: [`10.244.${octet}.0/24`] },
  };
}

/** Pings from h1's pod to h3's pod every 50 ms for `seconds`; resolves to [sent, received]. */
function pingFor(seconds: number): Promise<[number, number]> {
  const ping = spawn('ip', ['netns', 'exec', h1.podNetns, 'ping', '-n', '-q', '-i', '0.05', '-W', '1', '-w', String(seconds), lab.podIp(h3) as string], { stdio: ['ignore', 'pipe', 'ignore'] });
  let output = '';
  ping.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return new Promise((resolve) => ping.once('exit', () => {
    const match = /(\d+) packets transmitted, (\d+) received/.exec(output);
    resolve(match ? [Number(match[1]), Number(match[2])] : [0, 0]);
  }));
}

describe('Kubernetes lab (kubeconfig, in-cluster and image hosts)', () => {
  it('pods on every host reach each other; h3\'s flanneld runs from the image under podman', () => {
    assert.deepEqual(lab.pingMatrix(), []);
    const containers = run('podman', ['ps', '--format', '{{.Names}} {{.Image}}', '--filter', `name=${lab.layout.prefix}-h3-flanneld`]).stdout.trim();
    assert.match(containers, new RegExp(`^${lab.layout.prefix}-h3-flanneld localhost/flannel-ts:lab-[0-9a-f]{12}$`));
    assert.match(log(h2), /"Kubernetes API server" server="https:\/\/198\.18\.0\.9:6443" source="in-cluster"/);
    assert.match(log(h3), /source="in-cluster"/);
    assert.match(log(h1), /source="kubeconfig"/);
  });

  it('node annotations and the NetworkUnavailable condition are exactly upstream\'s', async () => {
    for (const host of [h1, h2, h3]) {
      const node = await kube().node(host.name);
      const annotations = (node.metadata as JsonObject).annotations as Record<string, string>;
      assert.deepEqual(annotations, {
        [`${P}backend-data`]: `{"VNI":1,"VtepMAC":"${vtepMac(host)}"}`, [`${P}backend-type`]: 'vxlan',
        [`${P}kube-subnet-manager`]: 'true', [`${P}public-ip`]: host.underlayIp,
      }, host.name);
      const conditions = (node.status as JsonObject).conditions as JsonObject[];
      assert.equal(conditions.length, 1);
      const condition = conditions[0] as JsonObject;
      assert.deepEqual(Object.keys(condition), ['type', 'status', 'lastHeartbeatTime', 'lastTransitionTime', 'reason', 'message']);
      assert.deepEqual([condition.type, condition.status, condition.reason, condition.message], ['NetworkUnavailable', 'False', 'FlannelIsUp', 'Flannel is running on this node']);
      assert.match(String(condition.lastTransitionTime), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      assert.equal(condition.lastHeartbeatTime, condition.lastTransitionTime);
    }
  });

  it('a node added in the API is routed on every host; its public IP changed, the FDB follows; deleted, it is gone', async (context) => {
    await kube().admin.request('POST', '/api/v1/nodes', peerNode('x1', 200, '198.18.0.99'));
    const routed = await until('x1 routed on every host', () => [h1, h2, h3].every((host) => routes(host).includes('10.244.200.0/24 via 10.244.200.0 dev flannel.1 onlink')), 5000);
    assert.match(fdb(h1), /0a:58:0a:f4:c8:01 dst 198\.18\.0\.99 self permanent/);
    await kube().admin.request('PATCH', '/api/v1/nodes/x1', { metadata: { annotations: { [`${P}public-ip`]: '198.18.0.98' } } });
    const moved = await until('FDB entry moved', () => [h1, h2, h3].every((host) => fdb(host).includes('0a:58:0a:f4:c8:01 dst 198.18.0.98 self permanent')), 5000);
    await kube().admin.request('DELETE', '/api/v1/nodes/x1');
    const removed = await until('x1 gone everywhere', () => [h1, h2, h3].every((host) => !routes(host).includes('10.244.200.0/24') && !fdb(host).includes('0a:58:0a:f4:c8:01')), 5000);
    context.diagnostic(`node added → routed on 3 hosts in ${routed} ms; public-ip changed → FDB moved in ${moved} ms; deleted → gone in ${removed} ms (100 ms polls)`);
  });

  it('public-ip-overwrite: the restarted host publishes it, the others send to it, pods still reach each other', async () => {
    inNetns(h2.netns, 'ip', ['addr', 'add', '198.18.0.52/24', 'dev', 'eth0']);
    await kube().admin.request('PATCH', `/api/v1/nodes/${h2.name}`, { metadata: { annotations: { [`${P}public-ip-overwrite`]: '198.18.0.52' } } });
    const mac = vtepMac(h2);
    await restart(h2);
    await until('h1 and h3 send h2\'s traffic to 198.18.0.52', () => [h1, h3].every((host) => fdb(host).includes(`${mac} dst 198.18.0.52 self permanent`)), 10_000, () => log(h2));
    assert.equal(((await kube().node(h2.name)).metadata as { annotations: Record<string, string> }).annotations[`${P}public-ip`], '198.18.0.52');
    assert.equal(vtepMac(h2), mac, 'the VTEP MAC survives the restart');
    assert.deepEqual(lab.pingMatrix(), []);
    await kube().admin.request('PATCH', `/api/v1/nodes/${h2.name}`, { metadata: { annotations: { [`${P}public-ip-overwrite`]: null } } });
  });

  it('a refused token is a clear error that flanneld outlives; the rotated right one is picked up without a restart', async (context) => {
    const tokenFile = kube().tokenFile(h2);
    const token = readFileSync(tokenFile, 'utf8');
    await restart(h2, () => writeFileSync(tokenFile, 'not-the-token'));
    await until('the refusal logged', () => /401 Unauthorized.*the API server refused our credentials: check the service-account token or the kubeconfig user/.test(log(h2)), 10_000, () => log(h2));
    await sleep(1500);
    assert.ok(processAlive(lab.flanneldPid(h2) ?? -1) && readyz(h2) !== 200, 'running, not ready');
    assert.match(log(h2), /cannot read the public addresses stored for this host; retrying/);
    writeFileSync(tokenFile, token);
    const tookMs = await until('h2 ready with the right token', () => readyz(h2) === 200, 40_000, () => log(h2));
    context.diagnostic(`token file fixed → ready in ${tookMs} ms (at the next retry of a 1 s → 30 s backoff)`);
    // The overwrite is gone (previous test): h2 publishes its interface address again.
    await until('h2 public-ip back', async () => ((await kube().node(h2.name)).metadata as { annotations: Record<string, string> }).annotations[`${P}public-ip`] === h2.underlayIp, 5000);
    await until('FDB back on h1', () => fdb(h1).includes(`${vtepMac(h2)} dst ${h2.underlayIp} self permanent`), 5000);
    assert.deepEqual(lab.pingMatrix(), []);
  });

  it('a node without a pod CIDR: a clear error, retried until it has one', async (context) => {
    await restart(h1, async () => {
      await kube().admin.request('DELETE', `/api/v1/nodes/${h1.name}`);
      await kube().registerNode(h1, { manualPodCidr: true });
    });
    await until('the error logged', () => log(h1).includes('"acquiring a lease failed; retrying" err="node \\"h1\\" pod cidr not assigned"'), 10_000, () => log(h1));
    assert.ok(processAlive(lab.flanneldPid(h1) ?? -1) && readyz(h1) !== 200, 'running, not ready');
    const assigned = Date.now();
    await kube().admin.request('PATCH', `/api/v1/nodes/${h1.name}`, { spec: { podCIDR: '10.244.0.0/24', podCIDRs: ['10.244.0.0/24'] } });
    await until('h1 ready', () => readyz(h1) === 200, 40_000, () => log(h1));
    context.diagnostic(`pod CIDR assigned → ready in ${Date.now() - assigned} ms`);
    await until('h1 routed again everywhere', () => [h2, h3].every((host) => routes(host).includes('10.244.0.0/24')), 5000);
    assert.deepEqual(lab.pingMatrix(), []);
  });

  it('the API server restarted with its history gone: every flanneld re-lists; a node deleted meanwhile goes, no other route, no ping lost', async (context) => {
    await kube().admin.request('POST', '/api/v1/nodes', peerNode('x2', 201, '198.18.0.97'));
    await until('x2 routed', () => [h1, h2, h3].every((host) => routes(host).includes('10.244.201.0/24')), 5000);
    const before = [h1, h2, h3].map((host) => routes(host).split('\n').filter((line) => !line.includes('10.244.201.0/24')).join('\n'));
    const pinging = pingFor(4);
    await sleep(500);
    await kube().stopServer();
    // While it is down, x2 is deleted and the history that would say so is compacted away.
    const statePath = join(lab.stateDir, 'apiserver-state.json');
    const state = JSON.parse(readFileSync(statePath, 'utf8')) as { resourceVersion: number; nodes: JsonObject[] };
    state.nodes = state.nodes.filter((node) => (node.metadata as JsonObject).name !== 'x2');
    state.resourceVersion += 10;
    writeFileSync(statePath, JSON.stringify(state));
    await sleep(1000);
    const restarted = Date.now();
    await kube().startServer();
    const relisted = await until('every flanneld re-listed', () => [h1, h2, h3].every((host) => log(host).includes('node watch expired (410 Gone); re-listing nodes')), 15_000);
    await until('x2 gone everywhere', () => [h1, h2, h3].every((host) => !routes(host).includes('10.244.201.0/24')), 5000);
    assert.deepEqual([h1, h2, h3].map(routes), before, 'no other route changed');
    const [sent, received] = await pinging;
    context.diagnostic(`API server down 1.5 s; re-listed within ${relisted} ms of its return; pings ${received}/${sent}`);
    assert.ok(sent >= 60, `sent ${sent}`);
    assert.equal(received, sent, 'no ping lost');
  });

  it('Kubernetes leases are never renewed: no renewal logged, no request from any flanneld while nothing changes', async () => {
    await sleep(500);
    const lines = () => kube().requestLog().split('\n').filter((line) => / token:h\d-/.test(line));
    const before = lines().length;
    await sleep(2000);
    // A watch answered only now would be one that ended: none should (their timeouts are 5–10 min).
    assert.deepEqual(lines().slice(before), []);
    for (const host of [h1, h2, h3]) assert.doesNotMatch(log(host), /lease renewed|renewing/, host.name);
  });
});
