/**
 * Seeing inside flanneld, end to end on one 2-host vxlan lab: /metrics moves with events (a lease added, a route
 * deleted and repaired), `flannelctl status` matches the kernel, `flannelctl trace` between the two pods is all
 * ok and then names the broken hop (UDP 8472 dropped on the peer, an FDB entry deleted while flanneld is
 * stopped, the peer's lease deleted), `flannelctl doctor` passes on the healthy lab and fails on ip_forward=0
 * and on the dropped port, and datapath health logs and exports the peer that stopped answering.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { getFromStatusSocket } from '../../src/adapters/http/status-client.js';
import { CNI_JS, ETCD_PREFIX } from '../../src/lab/lab.js';
import type { LabHost } from '../../src/lab/lab-layout.js';
import { type RunResult, inNetns } from '../../src/lab/shell.js';
import type { StatusDocument } from '../../src/ops/status-document.js';
import type { TraceReport } from '../../src/ops/trace/trace-facts.js';
import { labForSuite, waitFor } from '../support/lab-suite.js';
import { sleep } from '../../src/support/timing.js';

const FLANNELCTL = new URL('../../src/cmd/flannelctl.js', import.meta.url).pathname;

/** Polls an async condition every 20 ms; fails after `timeoutMs`. */
async function eventually(what: string, condition: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition().catch(() => false))) {
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

/** The value of one series on a Prometheus page (0 when absent). */
function sample(page: string, series: string): number {
  const line = page.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

describe('observability lab (2 vxlan hosts)', { timeout: 180_000 }, () => {
  const lab = labForSuite({ prefix: 'ftob', hosts: 2, backend: 'vxlan', flanneldArgs: ['--datapath-probe-interval=1'] });
  const [h1, h2] = lab.layout.hosts as [LabHost, LabHost];
  const cniDir = mkdtempSync(join(tmpdir(), 'ftob-cni-'));
  after(() => rmSync(cniDir, { recursive: true, force: true }));

  const metrics = (host: LabHost = h1) => getFromStatusSocket(lab.statusSocket(host), '/metrics');
  const flannelctl = (host: LabHost, args: string[]): RunResult => inNetns(host.netns, process.execPath, [FLANNELCTL, ...args], { allowFailure: true, timeoutMs: 30_000 });
  const sockets = (host: LabHost) => ['--socket', lab.statusSocket(host), '--subnet-file', lab.subnetFile(host)];
  const trace = (extra: string[] = []): { result: RunResult; report: TraceReport } => {
    const result = flannelctl(h1, ['trace', lab.podIp(h2) as string, '--from', lab.podIp(h1) as string, ...sockets(h1), '--json', ...extra]);
    return { result, report: JSON.parse(result.stdout || '{}') as TraceReport };
  };
  const broken = (report: TraceReport) => report.hops.filter((hop) => hop.status === 'broken').map((hop) => hop.step);
  const doctor = (): { result: RunResult; failed: string[] } => {
    writeFileSync(join(cniDir, '10-flannel.conf'), lab.cniConfig(h1));
    const result = flannelctl(h1, ['doctor', ...sockets(h1), '--cni-conf-dir', cniDir, '--cni-plugin', CNI_JS, '--json']);
    const checks = JSON.parse(result.stdout || '[]') as Array<{ name: string; result: string }>;
    return { result, failed: checks.filter((check) => check.result === 'fail').map((check) => check.name) };
  };
  const peerSubnet = async (host: LabHost) => ((await statusOf(host)).lease?.subnet as string);
  const statusOf = async (host: LabHost) => JSON.parse(await getFromStatusSocket(lab.statusSocket(host), '/status')) as StatusDocument;

  it('/metrics moves with events: a lease added, a route deleted and repaired', async () => {
    assert.deepEqual(lab.pingMatrix(), []);
    const before = await metrics();
    assert.equal(sample(before, 'flannel_ready'), 1);
    assert.equal(sample(before, 'flannel_peers'), 1);
    const healthPage = inNetns(h1.netns, process.execPath, ['-e', `fetch('http://${h1.underlayIp}:${h1.healthzPort}/metrics').then(async (r) => console.log(r.status, r.headers.get('content-type'), await r.text()))`]).stdout;
    assert.match(healthPage, /^200 text\/plain; version=0\.0\.4/);
    assert.match(healthPage, /^flannel_reconcile_passes_total\{result="ok"\} \d+$/m);
    assert.match(healthPage, /^process_resident_memory_bytes \d+/m);

    const key = `${ETCD_PREFIX}/subnets/10.244.250.0-24`;
    lab.etcdctl(['put', key, '{"PublicIP":"198.18.0.99","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"02:00:00:00:00:99"}}']);
    await waitFor('route to the new lease', () => inNetns(h1.netns, 'ip', ['route', 'show', '10.244.250.0/24']).stdout.includes('flannel.1'), 3000);
    let page = await metrics();
    assert.equal(sample(page, 'flannel_lease_events_total{type="added"}'), sample(before, 'flannel_lease_events_total{type="added"}') + 1);
    assert.equal(sample(page, 'flannel_lease_to_dataplane_seconds_count'), sample(before, 'flannel_lease_to_dataplane_seconds_count') + 1);
    assert.equal(sample(page, 'flannel_peers'), 2);
    assert.equal(sample(page, 'flannel_kernel_objects_desired{kind="fdb"}'), 2);
    lab.etcdctl(['del', key]);
    await waitFor('route to the removed lease gone', () => inNetns(h1.netns, 'ip', ['route', 'show', '10.244.250.0/24']).stdout === '', 3000);

    const subnet = await peerSubnet(h2);
    const beforeRepair = await metrics();
    inNetns(h1.netns, 'ip', ['route', 'del', subnet]);
    await waitFor('route back', () => inNetns(h1.netns, 'ip', ['route', 'show', subnet]).stdout.includes('flannel.1'), 1000);
    const repairs = sample(beforeRepair, 'flannel_drift_repairs_total{kind="route"}');
    await eventually('drift counted', async () => sample(await metrics(), 'flannel_drift_repairs_total{kind="route"}') === repairs + 1, 1000);
    page = await metrics();
    assert.equal(sample(page, 'flannel_kernel_writes_total{kind="route"}'), sample(beforeRepair, 'flannel_kernel_writes_total{kind="route"}') + 1);
    assert.equal(sample(page, 'flannel_lease_events_total{type="removed"}'), sample(before, 'flannel_lease_events_total{type="removed"}') + 1);
    assert.ok(sample(page, 'flannel_registry_request_duration_seconds_count{registry="etcd",op="create"}') >= 1);
  });

  it('flannelctl status matches the kernel', async () => {
    const result = flannelctl(h1, ['status', '--socket', lab.statusSocket(h1), '--json']);
    assert.equal(result.status, 0, result.stdout + result.stderr);
    const document = JSON.parse(result.stdout) as StatusDocument;
    const routes = inNetns(h1.netns, 'ip', ['-4', 'route', 'show', 'proto', '111']).stdout.trim().split('\n');
    assert.deepEqual([document.peers.desired, document.peers.programmed], [routes.length, routes.length]);
    const link = inNetns(h1.netns, 'ip', ['-d', 'link', 'show', 'flannel.1']).stdout;
    const device = document.devices.find((entry) => entry.name === 'flannel.1');
    assert.equal(device?.actual?.mtu, Number(/mtu (\d+)/.exec(link)?.[1]));
    assert.equal(device?.actual?.mac, /link\/ether (\S+)/.exec(link)?.[1]);
    assert.deepEqual(device?.differences, []);
    assert.equal(`${document.lease?.subnet.replace(/\.0\//, '.1/')}`, /FLANNEL_SUBNET=(\S+)/.exec(inNetns(h1.netns, 'cat', [lab.subnetFile(h1)]).stdout)?.[1]);
    assert.deepEqual([document.subnetEnv.matches, document.reconcile.lastResult, document.firewall?.state], [true, 'ok', 'ok']);
    assert.ok((document.reconcile.driftRepairs.route ?? 0) >= 1, 'the repair of the test before');
    const text = flannelctl(h1, ['status', '--socket', lab.statusSocket(h1)]);
    assert.match(text.stdout, /^ok {3}peers {5}1\/1 programmed, 1 admitted, 0 rejected$/m);
  });

  it('trace between the two pods is all ok; doctor passes on the healthy lab', () => {
    const { result, report } = trace();
    assert.equal(result.status, 0, result.stdout + result.stderr);
    assert.deepEqual(report.hops.map((hop) => `${hop.step} ${hop.status}`).filter((hop) => !hop.endsWith(' info')),
      ['lease ok', 'route ok', 'neighbour ok', 'fdb ok', 'underlay ok', 'mtu ok', 'forward ok', 'probe ok']);
    const healthy = doctor();
    assert.deepEqual(healthy.failed, [], healthy.result.stdout);
    assert.equal(healthy.result.status, 0);
  });

  it('doctor fails on ip_forward=0', () => {
    inNetns(h1.netns, 'sysctl', ['-qw', 'net.ipv4.ip_forward=0']);
    try {
      const { result, failed } = doctor();
      assert.equal(result.status, 1);
      assert.deepEqual(failed, ['ip_forward']);
    } finally {
      inNetns(h1.netns, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
    }
  });

  it('UDP 8472 dropped on the peer: trace names the probe, doctor fails, datapath health logs and exports the peer', async () => {
    const rule = ['INPUT', '-p', 'udp', '--dport', '8472', '-j', 'DROP'];
    const subnet = await peerSubnet(h2);
    inNetns(h2.netns, 'iptables', ['-I', ...rule]);
    try {
      const { result, report } = trace();
      assert.equal(result.status, 1);
      assert.deepEqual(broken(report), ['probe']);
      assert.match(report.hops.find((hop) => hop.step === 'probe')?.detail ?? '', new RegExp(`no answer from ${h2.underlayIp.replace(/\./g, '\\.')} over UDP 8472`));
      const { result: checked, failed } = doctor();
      assert.equal(checked.status, 1);
      assert.deepEqual(failed, ['overlay probe']);
      const down = new RegExp(`peer unreachable over the overlay.*${subnet.replace(/\./g, '\\.').replace('/', '\\/')}`);
      await waitFor('datapath health marks the peer down', () => down.test(lab.flanneldLog(h1)), 15_000);
      assert.equal(sample(await metrics(), 'flannel_peers_unreachable'), 1);
      assert.ok(sample(await metrics(), 'flannel_peer_probes_total{result="timeout"}') >= 3);
      assert.deepEqual((await statusOf(h1)).datapath?.unreachable, [subnet]);
    } finally {
      inNetns(h2.netns, 'iptables', ['-D', ...rule]);
    }
    await waitFor('the peer reachable again', () => /peer reachable over the overlay again/.test(lab.flanneldLog(h1)), 15_000);
    assert.equal(sample(await metrics(), 'flannel_peers_unreachable'), 0);
  });

  it('an FDB entry deleted while flanneld is stopped: trace (leases from etcd) names the FDB hop', async () => {
    const subnet = await peerSubnet(h2);
    const gateway = subnet.split('/')[0] as string;
    const mac = inNetns(h1.netns, 'ip', ['neigh', 'show', gateway, 'dev', 'flannel.1']).stdout.split(' ')[2] as string;
    await lab.stopFlanneld(h1);
    try {
      inNetns(h1.netns, 'bridge', ['fdb', 'del', mac, 'dev', 'flannel.1', 'self']);
      const { result, report } = trace(['--etcd-endpoints', lab.etcdUrl, '--no-probe']);
      assert.equal(result.status, 1, result.stderr);
      assert.match(result.stderr, /reading the leases from the store instead/);
      assert.deepEqual(broken(report), ['fdb']);
      assert.match(report.hops.find((hop) => hop.step === 'fdb')?.detail ?? '', new RegExp(`missing FDB entry for ${mac}`));
    } finally {
      lab.startFlanneld(h1);
    }
    await waitFor('FDB entry back after the restart', () => inNetns(h1.netns, 'bridge', ['fdb', 'show', 'dev', 'flannel.1']).stdout.includes(mac), 10_000);
    await eventually('flanneld on h1 ready again', async () => (await statusOf(h1)).flanneld.ready, 10_000);
  });

  it('the peer\'s lease deleted: trace names the lease hop', async () => {
    const subnet = await peerSubnet(h2);
    await lab.stopFlanneld(h2);
    lab.etcdctl(['del', `${ETCD_PREFIX}/subnets/${subnet.replace('/', '-')}`]);
    await waitFor('route gone on h1', () => inNetns(h1.netns, 'ip', ['route', 'show', subnet]).stdout === '', 3000);
    const { result, report } = trace(['--no-probe']);
    assert.equal(result.status, 1);
    assert.equal(broken(report)[0], 'lease');
    assert.match(report.hops[0]?.detail ?? '', /no lease covers .* the peer is gone or its lease was deleted or expired/);
  });
});
