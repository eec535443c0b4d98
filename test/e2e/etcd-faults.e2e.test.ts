/**
 * etcd failures under real flanneld processes, on one lab with a 3-member etcd cluster: the whole cluster down
 * for 60 s under continuous pod-to-pod ping, a member hung (SIGSTOP of the one a flanneld talks to), the leader
 * killed, and the store wiped (every member's data deleted, the cluster started anew and empty). Measured times
 * are printed as test diagnostics.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ETCD_PREFIX } from '../../src/lab/lab.js';
import type { LabHost } from '../../src/lab/lab-layout.js';
import { inNetns } from '../../src/lab/shell.js';
import { sleep } from '../../src/support/timing.js';
import { labForSuite } from '../support/lab-suite.js';

const lab = labForSuite({ prefix: 'ftetf', hosts: 2, backend: 'host-gw', etcdMembers: 3 });
const [h1, h2] = lab.layout.hosts as [LabHost, LabHost];

/** The third octet of a host's subnet (FLANNEL_SUBNET=10.244.<octet>.1/24). */
function hostOctet(host: LabHost): number {
  return Number(/FLANNEL_SUBNET=10\.244\.(\d+)\.1\/24/.exec(readFileSync(lab.subnetFile(host), 'utf8'))?.[1]);
}

let lastOctet = 241;
/** A /24 for a made-up lease, never one of the hosts' (they are random): overwriting one would be another fault. */
function freeOctet(): number {
  do lastOctet--;
  while ([h1, h2].some((host) => hostOctet(host) === lastOctet));
  return lastOctet;
}

/** A lease of a host that is not running, on the underlay (so host-gw routes it): its route proves the watch. */
function putLease(octet: number, member?: number): void {
  const key = `${ETCD_PREFIX}/subnets/10.244.${octet}.0-24`;
  const value = JSON.stringify({ PublicIP: `198.18.0.${octet}`, PublicIPv6: null, BackendType: 'host-gw' });
  lab.etcdctl(['--command-timeout', '1s', 'put', key, value], member === undefined ? {} : { member });
}

/** Puts through `member`, retrying while the cluster has no leader; returns when etcd accepted it. */
async function putLeaseRetrying(octet: number, member: number): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      return putLease(octet, member);
    } catch (error) {
      if (attempt > 100) throw error;
      await sleep(50);
    }
  }
}

const hasRoute = (host: LabHost, octet: number) => inNetns(host.netns, 'ip', ['route', 'show', `10.244.${octet}.0/24`]).stdout.trim() !== '';

/** Milliseconds from `sinceMs` until both hosts route the lease (fails after `limitMs`). */
async function routedEverywhere(octet: number, sinceMs: number, limitMs: number): Promise<number> {
  while (!(hasRoute(h1, octet) && hasRoute(h2, octet))) {
    if (Date.now() - sinceMs > limitMs) assert.fail(`10.244.${octet}.0/24 not routed on both hosts within ${limitMs} ms\n${lab.flanneldLog(h1).slice(-2000)}`);
    await sleep(50);
  }
  return Date.now() - sinceMs;
}

/** Pings from h1's pod to h2's pod every 200 ms for `seconds`; resolves to [sent, received]. */
function pingFor(seconds: number): Promise<[number, number]> {
  const ip = lab.podIp(h2) as string;
  const ping = spawn('ip', ['netns', 'exec', h1.podNetns, 'ping', '-n', '-q', '-i', '0.2', '-W', '1', '-w', String(seconds), ip], { stdio: ['ignore', 'pipe', 'ignore'] });
  let output = '';
  ping.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return new Promise((resolve) => ping.once('exit', () => {
    const match = /(\d+) packets transmitted, (\d+) received/.exec(output);
    resolve(match ? [Number(match[1]), Number(match[2])] : [0, 0]);
  }));
}

/** The member h1's flanneld is connected to (its established TCP connection to a client port). */
function memberInUse(host: LabHost): number {
  const out = inNetns(host.netns, 'ss', ['-Htn', 'state', 'established', '( dport = :2379 )']).stdout;
  const index = lab.etcd.ips.findIndex((ip) => out.includes(`${ip}:2379`));
  assert.ok(index >= 0, `no etcd connection on ${host.name}: ${out}`);
  return index;
}

describe('etcd faults (3-member cluster)', () => {
  it('the whole cluster down 60 s: 0 pings lost; the watch resumes and a new lease reaches the peers', async (context) => {
    assert.deepEqual(lab.pingMatrix(), []);
    const pinging = pingFor(64);
    await sleep(1000);
    for (let index = 0; index < 3; index++) await lab.etcd.signalMember(index, 'SIGKILL');
    await sleep(60_000);
    for (let index = 0; index < 3; index++) lab.etcd.startMember(index);
    await lab.etcd.waitHealthy();
    const started = Date.now();
    const octet = freeOctet();
    await putLeaseRetrying(octet, 0);
    const seenMs = await routedEverywhere(octet, started, 15_000);
    const [sent, received] = await pinging;
    context.diagnostic(`pings: ${sent} sent, ${received} received; new lease routed on both hosts ${seenMs} ms after etcd accepted it`);
    assert.ok(sent > 250, `ping ran (${sent} sent)`);
    assert.equal(sent - received, 0, 'no ping lost');
    assert.match(lab.flanneldLog(h1), /lease watch failed; resuming/);
    assert.match(lab.flanneldLog(h1), /^I.*"lease watch resumed after an outage" .*downFor="1m\d\ds" failures=\d+/m);
  });

  it('a hung member (the one h1 uses, SIGSTOP): a new lease reaches the peers through the others', async (context) => {
    const hung = memberInUse(h1);
    const other = (hung + 1) % 3;
    await lab.etcd.signalMember(hung, 'SIGSTOP');
    try {
      const started = Date.now();
      const octet = freeOctet();
      await putLeaseRetrying(octet, other);
      const seenMs = await routedEverywhere(octet, started, 20_000);
      context.diagnostic(`member ${hung} hung: new lease routed on both hosts after ${seenMs} ms`);
    } finally {
      await lab.etcd.signalMember(hung, 'SIGCONT');
    }
  });

  it('the leader killed: a new lease reaches the peers', async (context) => {
    const leader = lab.etcd.leader();
    const survivor = (leader + 1) % 3;
    const killed = Date.now();
    await lab.etcd.signalMember(leader, 'SIGKILL');
    const octet = freeOctet();
    await putLeaseRetrying(octet, survivor);
    const acceptedMs = Date.now() - killed;
    const seenMs = await routedEverywhere(octet, killed, 20_000);
    context.diagnostic(`leader ${leader} killed: put accepted after ${acceptedMs} ms, routed on both hosts ${seenMs} ms after the kill (${seenMs - acceptedMs} ms after the put)`);
    lab.etcd.startMember(leader);
    await lab.etcd.waitHealthy();
  });

  it('etcd wiped (all data deleted, cluster started anew): each flanneld re-asserts its lease, same subnet, at once', async (context) => {
    const subnets = [h1, h2].map((host) => `10.244.${hostOctet(host)}`);
    const pinging = pingFor(12);
    await sleep(500);
    await lab.etcd.wipe();
    lab.putConfig(lab.networkConfig());
    const restarted = Date.now();
    const keys = () => lab.etcdctl(['get', '--prefix', '--keys-only', `${ETCD_PREFIX}/subnets/`], { member: 0 }).stdout;
    while (!subnets.every((subnet) => keys().includes(`/subnets/${subnet}.0-24`))) {
      if (Date.now() - restarted > 20_000) assert.fail(`leases not re-asserted: ${keys()}\n${lab.flanneldLog(h1).slice(-2000)}`);
      await sleep(50);
    }
    const reassertedMs = Date.now() - restarted;
    assert.match(lab.flanneldLog(h1), /lease store was wiped or restored; re-listing leases/);
    assert.match(lab.flanneldLog(h1), /lease re-acquired with the same subnet/);
    const [sent, received] = await pinging;
    context.diagnostic(`wipe: both leases back (same subnets) ${reassertedMs} ms after the new cluster was up; pings ${sent} sent, ${received} received`);
    assert.deepEqual(lab.pingMatrix(), []);
  });
});
