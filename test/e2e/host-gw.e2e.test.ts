/**
 * End to end on host-gw: 3 simulated hosts, a real etcd, real flanneld processes, pods made through our CNI
 * plugin with the reference bridge/host-local plugins. The lab is removed after the suite even on failure.
 */
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { describe, it } from 'node:test';
import type { LabHost } from '../../src/lab/lab-layout.js';
import { labForSuite, pingInBackground, waitFor } from '../support/lab-suite.js';
import { inNetns } from '../../src/lab/shell.js';
import { sleep } from '../../src/support/timing.js';

const lab = labForSuite({ prefix: 'fte', hosts: 3, backend: 'host-gw' });
const [h1, h2, h3] = lab.layout.hosts as [LabHost, LabHost, LabHost];
const SUBNETS = '/coreos.com/network/subnets/';

function subnetOf(host: LabHost): string {
  const line = readFileSync(lab.subnetFile(host), 'utf8').split('\n').find((l) => l.startsWith('FLANNEL_SUBNET='));
  const [ip, length] = (line ?? '').slice('FLANNEL_SUBNET='.length).split('/');
  return `${ip?.replace(/\.1$/, '.0')}/${length}`;
}

function ourRoutes(host: LabHost): string[] {
  return inNetns(host.netns, 'ip', ['route', 'show', 'proto', '111']).stdout.trim().split('\n').filter((l) => l !== '').sort();
}

function leaseEntries(): Map<string, string> {
  const lines = lab.etcdctl(['get', '--prefix', SUBNETS]).stdout.split('\n');
  const entries = new Map<string, string>();
  for (let index = 0; index + 1 < lines.length; index += 2) entries.set(lines[index] as string, lines[index + 1] as string);
  return entries;
}

function leaseIdHex(key: string): string {
  const fields = lab.etcdctl(['get', key, '-w', 'fields']).stdout;
  const id = /"Lease" : (\d+)/.exec(fields)?.[1] ?? '0';
  return BigInt(id).toString(16);
}


function readyCount(host: LabHost): number {
  return lab.flanneldLog(host).split('\n').filter((line) => line.includes('"flannel is ready"')).length;
}

describe('host-gw lab (3 hosts, real etcd, real flanneld, CNI pods)', () => {

  it('every pod reaches every pod on the other hosts', () => {
    assert.deepEqual(lab.pingMatrix(), []);
  });

  it('etcd holds upstream-format keys and values with a 24 h TTL', () => {
    const entries = leaseEntries();
    assert.equal(entries.size, 3);
    const values = [...entries.values()].sort();
    assert.deepEqual(values, [h1, h2, h3].map((h) => `{"PublicIP":"${h.underlayIp}","PublicIPv6":null,"BackendType":"host-gw"}`).sort());
    for (const key of entries.keys()) assert.match(key, /^\/coreos\.com\/network\/subnets\/10\.244\.\d{1,3}\.0-24$/);
    const ttl = lab.etcdctl(['lease', 'timetolive', leaseIdHex([...entries.keys()][0] as string)]).stdout;
    assert.match(ttl, /granted with TTL\(86400s\)/);
    assert.equal(lab.etcdctl(['get', '/coreos.com/network/config', '--print-value-only']).stdout.trim(), '{"Network":"10.244.0.0/16","Backend":{"Type":"host-gw"}}');
  });

  it('writes subnet.env in upstream format and serves /healthz and /readyz', () => {
    const text = readFileSync(lab.subnetFile(h1), 'utf8');
    assert.match(text, /^FLANNEL_NETWORK=10\.244\.0\.0\/16\nFLANNEL_SUBNET=10\.244\.\d+\.1\/24\nFLANNEL_MTU=1500\nFLANNEL_IPMASQ=false\n$/);
    assert.equal(statSync(lab.subnetFile(h1)).mode & 0o777, 0o644);
    const fetchScript = `for (const p of ['/healthz','/readyz','/x']) { const r = await fetch('http://${h1.underlayIp}:${h1.healthzPort}'+p); console.log(r.status, await r.text()); }`;
    const output = inNetns(h1.netns, process.execPath, ['--input-type=module', '-e', fetchScript]).stdout;
    assert.equal(output, '200 flanneld is running\n200 flanneld is ready\n404 404 page not found\n\n');
  });

  it('a route deleted by hand is back within 1 s', async () => {
    const subnet = subnetOf(h2);
    inNetns(h1.netns, 'ip', ['route', 'del', subnet]);
    const elapsed = await waitFor('route restored', () => ourRoutes(h1).some((r) => r.startsWith(subnet)), 1000);
    console.log(`route ${subnet} restored after ${elapsed} ms`);
    assert.deepEqual(lab.pingMatrix(), []);
  });

  it('garbage under subnets/ (over a healthy peer key and under a non-subnet key) breaks nothing', async () => {
    const routesBefore = ourRoutes(h1);
    const peerKey = `${SUBNETS}${subnetOf(h2).replace('/', '-')}`;
    const original = leaseEntries().get(peerKey) as string;
    const leaseId = leaseIdHex(peerKey);
    lab.etcdctl(['put', `${SUBNETS}garbage`, '{"PublicIP":"not-an-ip"}']);
    lab.etcdctl(['put', peerKey, 'garbage']);
    await sleep(1500);
    assert.deepEqual(ourRoutes(h1), routesBefore, 'routes to healthy peers stay');
    assert.deepEqual(lab.pingMatrix(), []);
    assert.match(lab.flanneldLog(h1), /ignoring malformed lease/);
    lab.etcdctl(['put', peerKey, original, `--lease=${leaseId}`]);
    lab.etcdctl(['del', `${SUBNETS}garbage`]);
  });

  it('flanneld SIGKILLed and restarted keeps its subnet and no ping is lost', async () => {
    const subnet = subnetOf(h1);
    const readyBefore = readyCount(h1);
    const pinging = pingInBackground(h2.podNetns, lab.podIp(h1) as string, 40);
    await sleep(500);
    await lab.stopFlanneld(h1, 'SIGKILL');
    lab.startFlanneld(h1);
    await waitFor('restarted flanneld ready', () => readyCount(h1) > readyBefore, 15_000);
    assert.equal(subnetOf(h1), subnet, 'same subnet after restart');
    const { code, output } = await pinging;
    assert.equal(code, 0, output);
    assert.match(output, / 0% packet loss/, output);
    console.log(output.trim().split('\n').slice(-2).join(' | '));
  });

  it('a peer whose lease is deleted disappears from the others, and comes back with its subnet', async () => {
    const subnet = subnetOf(h3);
    await lab.stopFlanneld(h3, 'SIGTERM');
    assert.ok(ourRoutes(h1).some((r) => r.startsWith(subnet)), 'routes stay while the lease lives');
    lab.etcdctl(['del', `${SUBNETS}${subnet.replace('/', '-')}`]);
    await waitFor('route removed on h1 and h2', () => !ourRoutes(h1).some((r) => r.startsWith(subnet)) && !ourRoutes(h2).some((r) => r.startsWith(subnet)), 2000);
    lab.startFlanneld(h3);
    await waitFor('route back', () => ourRoutes(h1).some((r) => r.startsWith(subnet)), 15_000);
    assert.equal(subnetOf(h3), subnet, 'previous subnet from subnet.env reused');
    assert.deepEqual(lab.pingMatrix(), []);
  });

  it('a restarted flanneld removes routes to peers that left while it was down (upstream #2554)', async () => {
    const subnet = subnetOf(h3);
    await lab.stopFlanneld(h1, 'SIGTERM');
    await lab.stopFlanneld(h3, 'SIGTERM');
    lab.etcdctl(['del', `${SUBNETS}${subnet.replace('/', '-')}`]);
    assert.ok(ourRoutes(h1).some((r) => r.startsWith(subnet)), 'stale route still there while h1 is down');
    const readyBefore = readyCount(h1);
    lab.startFlanneld(h1);
    await waitFor('h1 ready', () => readyCount(h1) > readyBefore, 15_000);
    await waitFor('stale route removed', () => !ourRoutes(h1).some((r) => r.startsWith(subnet)), 2000);
    assert.equal(ourRoutes(h1).length, 1, 'the route to h2 stays');
    lab.startFlanneld(h3);
    await waitFor('h3 back', () => ourRoutes(h1).length === 2, 15_000);
    assert.deepEqual(lab.pingMatrix(), []);
  });

  it('a running host whose own lease is deleted re-acquires the same subnet', async () => {
    const subnet = subnetOf(h2);
    const key = `${SUBNETS}${subnet.replace('/', '-')}`;
    lab.etcdctl(['del', key]);
    await waitFor('lease re-created', () => leaseEntries().has(key), 5000);
    assert.equal(leaseEntries().get(key), `{"PublicIP":"${h2.underlayIp}","PublicIPv6":null,"BackendType":"host-gw"}`);
    assert.match(lab.flanneldLog(h2), /our lease was deleted or expired; re-acquiring/);
    assert.deepEqual(lab.pingMatrix(), []);
  });

  it('CNI DEL releases the pod, CHECK succeeds', () => {
    lab.cni(h3, 'CHECK');
    lab.cni(h3, 'DEL');
    assert.equal(inNetns(h3.podNetns, 'ip', ['-4', 'addr', 'show', 'dev', 'eth0'], { allowFailure: true }).status !== 0, true, 'pod interface removed');
    lab.cni(h3, 'DEL');
  });
});
