/**
 * End to end on vxlan, hostile leases (issue 7): one lab of 3 hosts with a real etcd and real flanneld.
 * Bad leases written into etcd are programmed on no host and leave the healthy peers' routes, neighbours, FDB
 * entries and pings alone; a lease overlapping a host's subnet, then deleted, leaves everything as it was;
 * a host whose key is overwritten keeps its subnet and writes its value back; and a backend whose devices
 * the kernel would refuse makes flanneld exit at start with the reason, never "ready".
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FLANNELD_JS, FLANNELD_NODE_FLAGS } from '../../src/lab/lab.js';
import type { LabHost } from '../../src/lab/lab-layout.js';
import { inNetns } from '../../src/lab/shell.js';
import { labForSuite, waitFor } from '../support/lab-suite.js';

const SUBNETS = '/coreos.com/network/subnets/';
// JSON logs: the assertions read the logged fields.
const lab = labForSuite({ prefix: 'ftb', hosts: 3, backend: 'vxlan', flanneldArgs: ['--logging-format=json'] });
const hosts = lab.layout.hosts as readonly LabHost[];
const [h1, h2, h3] = hosts as [LabHost, LabHost, LabHost];

const vxlanValue = (publicIP: string, mac: string, vni = 1) =>
  JSON.stringify({ PublicIP: publicIP, PublicIPv6: null, BackendType: 'vxlan', BackendData: { VNI: vni, VtepMAC: mac } });

/** A host's subnet, e.g. 10.244.7.0/24, from its subnet.env. */
function subnetOf(host: LabHost): string {
  const line = readFileSync(lab.subnetFile(host), 'utf8').split('\n').find((l) => l.startsWith('FLANNEL_SUBNET=')) ?? '';
  return line.slice('FLANNEL_SUBNET='.length).replace(/\.1\//, '.0/');
}
const keyOf = (subnet: string) => subnet.replace('/', '-');

/** Everything flannel-ts programmed on a host: its routes, permanent neighbours and FDB entries. */
function dataplane(host: LabHost): string {
  const lines = (command: string, args: string[]) => inNetns(host.netns, command, args).stdout.trim().split('\n').filter((l) => l !== '');
  return [
    ...lines('ip', ['route', 'show', 'proto', '111']),
    ...lines('ip', ['neigh', 'show', 'dev', 'flannel.1', 'nud', 'permanent']),
    ...lines('bridge', ['fdb', 'show', 'dev', 'flannel.1']).filter((l) => l.includes(' dst ')),
  ].sort().join('\n');
}

/** Log lines of a host's flanneld with this message. */
function logLines(host: LabHost, msg: string): Array<Record<string, unknown>> {
  return lab.flanneldLog(host).split('\n').filter((l) => l.includes(`"msg":"${msg}"`)).map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Subnets of the network nobody holds (for bad and sentinel leases). */
function freeSubnets(count: number): string[] {
  const taken = new Set(hosts.map(subnetOf));
  const free: string[] = [];
  for (let third = 100; free.length < count; third++) if (!taken.has(`10.244.${third}.0/24`)) free.push(`10.244.${third}.0/24`);
  return free;
}

/**
 * Writes a good lease after the writes under test and waits until every host routes it: by then each host
 * has handled every earlier event. Then deletes it again and waits until it is gone everywhere.
 */
async function settle(subnet: string): Promise<void> {
  lab.etcdctl(['put', SUBNETS + keyOf(subnet), vxlanValue('198.18.0.60', '02:00:00:00:00:60')]);
  const routed = (host: LabHost) => inNetns(host.netns, 'ip', ['route', 'show', subnet]).stdout.includes('flannel.1');
  for (const host of hosts) await waitFor(`${host.name} routes the sentinel ${subnet}`, () => routed(host), 5000);
  lab.etcdctl(['del', SUBNETS + keyOf(subnet)]);
  for (const host of hosts) await waitFor(`${host.name} drops the sentinel ${subnet}`, () => !routed(host) && !dataplane(host).includes('02:00:00:00:00:60'), 5000);
}

describe('vxlan lab: hostile leases (3 hosts, real etcd, real flanneld)', () => {
  it('bad leases are programmed on no host; healthy peers keep their entries and pings; each is logged once', async () => {
    const before = hosts.map(dataplane);
    const [outsideRange, free25, loopback, otherVni, copy, multicast, sentinel1, sentinel2] = freeSubnets(8) as string[];
    const h2Value = lab.etcdctl(['get', SUBNETS + keyOf(subnetOf(h2)), '--print-value-only']).stdout.trim();
    const bad: Record<string, string> = {
      '10.244.0.0-16': vxlanValue('198.18.0.90', '02:00:00:00:09:01'),
      [keyOf(outsideRange as string).replace('10.244.', '10.99.')]: vxlanValue('198.18.0.91', '02:00:00:00:09:02'),
      [keyOf(free25 as string).replace('-24', '-25')]: vxlanValue('198.18.0.92', '02:00:00:00:09:03'),
      '0.0.0.0-0': vxlanValue('198.18.0.93', '02:00:00:00:09:04'),
      [keyOf(loopback as string)]: vxlanValue('127.0.0.1', '02:00:00:00:09:05'),
      [keyOf(otherVni as string)]: vxlanValue('198.18.0.95', '02:00:00:00:09:06', 2),
      [keyOf(multicast as string)]: vxlanValue('198.18.0.97', '01:00:5e:00:00:01'),
    };
    // Someone else's key carrying h2's value: on h2 "our public IP" rejects it; elsewhere h2's MAC is taken.
    const copyKey = keyOf(copy as string);
    for (const [key, value] of [...Object.entries(bad), [copyKey, h2Value]]) lab.etcdctl(['put', SUBNETS + key, value as string]);
    await settle(sentinel1 as string);
    assert.deepEqual(hosts.map(dataplane), before, 'every host programs exactly what it did before');
    assert.deepEqual(lab.pingMatrix(), []);
    for (const host of hosts) {
      const rejected = logLines(host, 'rejecting peer lease');
      const expected = [...Object.keys(bad), ...(host === h2 ? [copyKey] : [])].sort();
      assert.deepEqual(rejected.map((line) => line.key).sort(), expected, `${host.name} logs each bad lease once`);
      assert.ok(rejected.every((line) => typeof line.field === 'string' && typeof line.value === 'string'), 'with the field and value');
    }
    assert.equal(logLines(h1, 'rejecting peer lease').find((line) => line.key === keyOf(loopback as string))?.value, '127.0.0.1');
    // Written again (renewals do that) and another pass: nothing new is logged.
    for (const [key, value] of Object.entries(bad)) lab.etcdctl(['put', SUBNETS + key, value]);
    await settle(sentinel2 as string);
    for (const host of hosts) assert.equal(logLines(host, 'rejecting peer lease').length, Object.keys(bad).length + (host === h2 ? 1 : 0));
    for (const key of [...Object.keys(bad), copyKey]) lab.etcdctl(['del', SUBNETS + key]);
  });

  it('a lease overlapping h1 (/23) cuts nobody off, and deleting it leaves everything as it was', async () => {
    const before = hosts.map(dataplane);
    const [ip] = subnetOf(h1).split('/') as [string];
    const intruder = `${ip}-23`;
    lab.etcdctl(['put', SUBNETS + intruder, vxlanValue('198.18.0.96', '02:00:00:00:09:23')]);
    const [sentinel1, sentinel2] = freeSubnets(2) as [string, string];
    await settle(sentinel1);
    assert.deepEqual(hosts.map(dataplane), before, 'h1\u2019s neighbour still points at h1\u2019s VTEP MAC everywhere');
    assert.deepEqual(lab.pingMatrix(), []);
    lab.etcdctl(['del', SUBNETS + intruder]);
    await settle(sentinel2);
    assert.deepEqual(hosts.map(dataplane), before);
    assert.deepEqual(lab.pingMatrix(), []);
  });

  it('h1\u2019s key overwritten by a foreign value: h1 keeps its subnet, writes its value back and names the other host', async () => {
    const key = SUBNETS + keyOf(subnetOf(h1));
    const ours = lab.etcdctl(['get', key, '--print-value-only']).stdout.trim();
    const env = readFileSync(lab.subnetFile(h1), 'utf8');
    lab.etcdctl(['put', key, vxlanValue('198.18.0.77', '02:00:00:00:07:77')]);
    await waitFor('h1 writes its value back', () => lab.etcdctl(['get', key, '--print-value-only']).stdout.trim() === ours, 5000);
    assert.equal(readFileSync(lab.subnetFile(h1), 'utf8'), env, 'same subnet, subnet.env untouched');
    assert.ok(lab.flanneldLog(h1).split('\n').some((l) => l.includes('"level":50') && l.includes('198.18.0.77')), 'an error names the other host');
    assert.equal(lab.etcdctl(['get', '--prefix', SUBNETS, '--keys-only']).stdout.trim().split('\n').filter((l) => l !== '').length, 3, 'nobody took a second subnet');
    await waitFor('peers back on h1\u2019s MAC', () => !hosts.some((host) => dataplane(host).includes('02:00:00:00:07:77')), 5000);
    assert.deepEqual(lab.pingMatrix(), []);
  });

  /*
   * Fail at start rather than stay not-ready: flanneld keeps the config it started with, so a backend config
   * the kernel refuses can never start working without a restart; exiting 1 with the reason is what an
   * operator (systemd, a crash-looping DaemonSet pod) sees at once, as with upstream's other config errors.
   * Devices that fail for reasons outside the config keep flanneld running and not ready (unit-tested).
   */
  it('a backend the kernel would refuse makes flanneld exit at start with the reason, never ready', () => {
    const cases: Array<[string, Record<string, unknown>, RegExp]> = [
      ['vni', { Type: 'vxlan', VNI: 16777215 }, /Backend\.VNI: 16777215 makes the device name flannel\.16777215 \(16 characters\)/],
      ['mtu', { Type: 'vxlan', MTU: 9000 }, /Backend\.MTU: 9000 is above the MTU of eth0 \(1500\)/],
    ];
    for (const [name, backend, pattern] of cases) {
      const prefix = `/ftb-broken-${name}/network`;
      lab.etcdctl(['put', `${prefix}/config`, JSON.stringify({ Network: '10.250.0.0/16', Backend: backend })]);
      const subnetFile = join(lab.hostDir(h3), `broken-${name}.env`);
      const result = spawnSync('ip', ['netns', 'exec', h3.netns, process.execPath, ...FLANNELD_NODE_FLAGS, FLANNELD_JS,
        '--etcd-endpoints', lab.etcdUrl, '--etcd-prefix', prefix, '--iface', 'eth0', '--subnet-file', subnetFile, '--status-socket='], { encoding: 'utf8', timeout: 15_000 });
      assert.equal(result.status, 1, `${name}: exit status (signal ${result.signal})\n${result.stderr.slice(-2000)}`);
      assert.match(result.stderr, pattern);
      assert.doesNotMatch(result.stderr, /flannel is ready/);
      assert.equal(existsSync(subnetFile), false, 'no subnet.env');
      assert.equal(lab.etcdctl(['get', '--prefix', `${prefix}/subnets/`, '--keys-only']).stdout.trim(), '', 'no lease taken');
      assert.equal(inNetns(h3.netns, 'ip', ['link', 'show', 'flannel.16777215'], { allowFailure: true }).status === 0, false);
    }
    assert.deepEqual(lab.pingMatrix(), [], 'the running flanneld on h3 is unaffected');
  });
});
