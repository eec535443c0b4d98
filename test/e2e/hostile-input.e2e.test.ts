/**
 * What a hostile host on the underlay can do to a running cluster, with one lab: inject VXLAN frames toward
 * pods (the overlay ingress filter stops it, in both firewall modes, while members keep working and a new
 * member is let in once its lease arrives), and send malformed, oversized and slow requests to flanneld's
 * listener (flanneld stays up and keeps answering its prober).
 *
 * h1 runs with --overlay-ingress-filter, h2 without (the control: what the filter prevents).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { before, describe, it } from 'node:test';
import { ETCD_PREFIX, type Lab } from '../../src/lab/lab.js';
import type { LabHost } from '../../src/lab/lab-layout.js';
import { inNetns, processAlive } from '../../src/lab/shell.js';
import { labForSuite, waitFor } from '../support/lab-suite.js';
import { type Intruder, echoRequestsSeen, makeIntruder } from '../support/vxlan-intruder.js';

const PROBE = new URL('../support/health-probe.js', import.meta.url).pathname;

/** Restarts a host's flanneld with extra flags and waits until it says it is ready again. */
async function restartWith(lab: Lab, host: LabHost, extra: readonly string[]): Promise<void> {
  await lab.stopFlanneld(host, 'SIGTERM');
  const readyBefore = lab.flanneldLog(host).split('"flannel is ready"').length;
  lab.startFlanneld(host, [...lab.flanneldArgs(host), ...extra]);
  await waitFor(`${host.name} ready`, () => lab.flanneldLog(host).split('"flannel is ready"').length > readyBefore, 15_000);
}

/** Runs the probe in `netns` in the background; resolves with its JSON line. */
function probe(netns: string, mode: string, host: LabHost, seconds = 0): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', netns, process.execPath, PROBE, mode, host.underlayIp, String(host.healthzPort), String(seconds)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let errors = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (errors += chunk.toString()));
    child.once('exit', (code) => (code === 0 ? resolve(JSON.parse(output) as Record<string, unknown>) : reject(new Error(`probe ${mode} exited ${code}: ${errors}`))));
  });
}

const inIpset = (lab: Lab, host: LabHost) => inNetns(host.netns, 'ipset', ['list', 'flannel-peers-v4'], { allowFailure: true }).stdout;
const inNftSet = (lab: Lab, host: LabHost) => inNetns(host.netns, 'nft', ['list', 'set', 'ip', 'flannel-ipv4', 'overlay_peers'], { allowFailure: true }).stdout;

describe('a hostile host on the underlay', () => {
  const lab = labForSuite({ prefix: 'fthi', hosts: 2, backend: 'vxlan' });
  const [h1, h2] = lab.layout.hosts as [LabHost, LabHost];
  let intruder: Intruder;
  const intruderLease = () => `${ETCD_PREFIX}/subnets/${intruder.subnet.replace('/', '-')}`;
  const joinIntruder = () =>
    lab.etcdctl(['put', intruderLease(), JSON.stringify({ PublicIP: lab.layout.outsideIp, PublicIPv6: null, BackendType: 'vxlan', BackendData: { VNI: 1, VtepMAC: intruder.vtepMac } })]);
  const reachesPod = async (host: LabHost) => (await echoRequestsSeen(host.podNetns, intruder.innerIp, 2, () => intruder.ping(lab.podIp(host) as string))) > 0;

  before(async () => {
    await restartWith(lab, h1, ['--overlay-ingress-filter']);
    lab.createOutside();
    intruder = makeIntruder(lab);
  });

  it('without the filter (h2), its VXLAN frames reach the pod', async () => {
    assert.equal(await reachesPod(h2), true);
  });

  it('with the filter (h1, iptables mode) they are dropped; members keep working', async () => {
    assert.equal(await reachesPod(h1), false);
    assert.deepEqual(lab.pingMatrix(), []);
    assert.match(inNetns(h1.netns, 'iptables-save', ['-t', 'filter']).stdout, /-A INPUT -p udp -m udp --dport 8472 -m comment --comment "flanneld overlay ingress" -j FLANNEL-INGRESS/);
    assert.match(inIpset(lab, h1), /Members:\n198\.18\.0\.12\n/);
  });

  it('a new member\u2019s frames are accepted once its lease arrives, and refused again when it leaves (iptables)', async () => {
    joinIntruder();
    const joinedMs = await waitFor('the new member in the ipset', () => inIpset(lab, h1).includes(lab.layout.outsideIp), 3000);
    assert.equal(await reachesPod(h1), true);
    lab.etcdctl(['del', intruderLease()]);
    const leftMs = await waitFor('the member gone from the ipset', () => !inIpset(lab, h1).includes(lab.layout.outsideIp), 3000);
    console.log(`ipset followed the lease: joined after ${joinedMs} ms, left after ${leftMs} ms`);
  });

  it('nftables mode: dropped, members keep working, a new member is let in; the iptables chain and ipset are gone', async () => {
    lab.putConfig({ ...lab.networkConfig(), EnableNFTables: true });
    await restartWith(lab, h1, ['--overlay-ingress-filter']);
    assert.doesNotMatch(inNetns(h1.netns, 'iptables-save', ['-t', 'filter']).stdout, /FLANNEL-INGRESS/);
    assert.equal(inNetns(h1.netns, 'ipset', ['list', '-n']).stdout.trim(), '');
    // A fresh table starts with an empty set; the peers follow the first lease snapshot.
    await waitFor('the peers in the nft set', () => /elements = \{ 198\.18\.0\.12 \}/.test(inNftSet(lab, h1)), 3000);
    assert.equal(await reachesPod(h1), false);
    assert.deepEqual(lab.pingMatrix(), []);
    joinIntruder();
    const joinedMs = await waitFor('the new member in the nft set', () => inNftSet(lab, h1).includes(lab.layout.outsideIp), 3000);
    console.log(`nft set followed the lease after ${joinedMs} ms`);
    assert.equal(await reachesPod(h1), true);
  });

  it('malformed, oversized and slow requests: flanneld stays up and its prober keeps getting answers', async () => {
    const pid = lab.flanneldPid(h1) as number;
    const battery = (await probe(lab.layout.outsideNetns, 'battery', h1)) as { results: Array<{ sent: string; answer: string; healthzAfter: boolean }> };
    const answers = Object.fromEntries(battery.results.map((result) => [result.sent, result.answer]));
    assert.deepEqual(battery.results.filter((result) => !result.healthzAfter).map((result) => result.sent), [], JSON.stringify(answers));
    assert.equal(answers['target //x:99999'], '301');
    assert.equal(answers['target //%zz'], '400');
    assert.equal(answers['1 MiB header'], '431');
    // Slowloris and a connection flood from the intruder while the node itself probes /healthz.
    const [siege, poll] = await Promise.all([probe(lab.layout.outsideNetns, 'siege', h1, 8), probe(h1.netns, 'poll', h1, 6)]) as [{ slowTotal: number; slowClosedByServer: number }, { ok: number; failed: number }];
    assert.equal(siege.slowClosedByServer, siege.slowTotal, 'every slowloris connection closed by the server before the client gave up');
    assert.equal(poll.failed, 0, `prober: ${JSON.stringify(poll)}`);
    assert.ok(poll.ok > 10);
    assert.ok(processAlive(pid), 'flanneld still running');
    assert.doesNotMatch(lab.flanneldLog(h1), /"level":(50|60)|uncaught|TypeError/);
  });
});
