import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { getFromStatusSocket, getJsonFromStatusSocket } from '../../src/adapters/http/status-client.js';
import { startStatusSocket } from '../../src/adapters/http/status-socket.js';
import { desiredState } from '../../src/dataplane/desired-state.js';
import { NUD_PERMANENT, neighbourKey } from '../../src/dataplane/kernel-objects.js';
import { IpAddress } from '../../src/net/ip.js';
import { decodeLeaseTable, encodeLeaseTable } from '../../src/ops/lease-records.js';
import { comparePeerProgramming } from '../../src/ops/peer-programming.js';
import { type StatusFacts, type StatusProvider, buildStatusDocument } from '../../src/ops/status-document.js';
import { checkStatusDocument, formatDuration, renderStatusText, statusHealthy } from '../../src/ops/status-text.js';
import { NOW_MS, OWN, PEER, PEER_MAC, baseHost, route, setRoute, vxlanHost } from '../support/trace-host.js';

const ENV = 'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n';
const peerGroup = {
  routes: [route({ dst: '10.244.2.0/24', gateway: IpAddress.parse('10.244.2.0'), linkName: 'flannel.1', onlink: true })],
  neighbours: [
    { kind: 'neigh' as const, linkName: 'flannel.1', ip: IpAddress.parse('10.244.2.0'), mac: PEER_MAC, state: NUD_PERMANENT },
    { kind: 'fdb' as const, linkName: 'flannel.1', ip: IpAddress.parse('198.18.0.12'), mac: PEER_MAC, state: NUD_PERMANENT },
  ],
};

async function facts(kernel = vxlanHost(), extra: Partial<StatusFacts> = {}): Promise<StatusFacts> {
  const groups = [...desiredState(peerGroup).groups];
  return {
    version: '0.1.0', pid: 7, startedAtMs: NOW_MS - 5000, ready: true, subnetManager: 'etcd', lease: OWN, backend: { type: 'vxlan', mtu: 1450 },
    devices: [{ name: 'flannel.1', kind: 'vxlan', wanted: { vni: 1, mtu: 1450 }, actual: { vni: 1, mtu: 1450 } }],
    admittedPeers: 1, rejectedPeers: [],
    programming: comparePeerProgramming(groups, { links: await kernel.listLinks(), routes: await kernel.listRoutes(), neighbours: await kernel.listNeighbours() }),
    reconcile: { passes: 4, lastPass: { endedAtMs: NOW_MS - 100, ok: true, durationMs: 2, changed: 0, errors: [] }, lastSuccessAtMs: NOW_MS - 100 },
    driftRepairs: { fdb: 1 },
    firewall: { mode: 'iptables', ipMasq: true, forwardRules: true, ingressFilter: false, writes: 2, lastWriteAtMs: NOW_MS - 1000 },
    subnetEnv: { path: '/run/flannel/subnet.env', text: ENV, wanted: ENV },
    ...extra,
  };
}

describe('status document', () => {
  it('a healthy host: every peer programmed, subnet.env matches, exit 0', async () => {
    const document = buildStatusDocument(await facts(), NOW_MS);
    assert.deepEqual([document.peers.desired, document.peers.programmed, document.peers.differing.length], [1, 1, 0]);
    assert.equal(document.lease?.expiresInSeconds, 3600);
    assert.ok(document.subnetEnv.matches);
    assert.ok(statusHealthy(document));
    const text = renderStatusText(document);
    assert.match(text, /^ok {3}peers {5}1\/1 programmed, 1 admitted, 0 rejected$/m);
    assert.match(text, /drift repaired: fdb 1/);
  });

  it('udp: the network route is reported as such, not as a peer; a missing one fails the status', async () => {
    const networkGroup = { network: true as const, neighbours: [], routes: [route({ dst: '10.244.0.0/16', linkName: 'flannel0' })] };
    const udpHost = () => baseHost().addLink({ index: 11, name: 'flannel0', mtu: 1472, up: true, kind: 'tun' });
    const udpFacts = async (kernel: ReturnType<typeof baseHost>) => facts(kernel, {
      backend: { type: 'udp', mtu: 1472 }, devices: [], admittedPeers: 2,
      programming: comparePeerProgramming([networkGroup], { links: await kernel.listLinks(), routes: await kernel.listRoutes(), neighbours: await kernel.listNeighbours() }),
    });
    const healthyKernel = udpHost();
    setRoute(healthyKernel, route({ dst: '10.244.0.0/16', linkIndex: 11 }));
    const healthy = buildStatusDocument(await udpFacts(healthyKernel), NOW_MS);
    assert.deepEqual([healthy.peers.desired, healthy.peers.programmed, healthy.network], [0, 0, { desired: 1, missing: [] }]);
    assert.ok(statusHealthy(healthy));
    const text = renderStatusText(healthy);
    assert.match(text, /^ok {3}network {3}routes in place$/m);
    assert.match(text, /^ok {3}peers {5}no per-peer kernel entries, 2 admitted, 0 rejected$/m);
    const broken = buildStatusDocument(await udpFacts(udpHost()), NOW_MS);
    assert.deepEqual(broken.network, { desired: 1, missing: ['route 10.244.0.0/16 dev flannel0'] });
    assert.equal(statusHealthy(broken), false);
    assert.match(renderStatusText(broken), /^FAIL network {3}missing in the kernel:\n {12}route 10\.244\.0\.0\/16 dev flannel0$/m);
  });

  it('names the peer whose FDB entry is missing, and what is missing', async () => {
    const kernel = vxlanHost();
    kernel.neighbours.delete(neighbourKey({ kind: 'fdb', linkIndex: 10, mac: PEER_MAC, state: 0 }));
    const document = buildStatusDocument(await facts(kernel), NOW_MS);
    assert.deepEqual(document.peers.differing, [{ peer: '10.244.2.0/24', missing: ['fdb 0e:00:00:00:00:0c dst 198.18.0.12 dev flannel.1'] }]);
    assert.equal(statusHealthy(document), false);
    assert.match(renderStatusText(document), /10\.244\.2\.0\/24: missing fdb 0e:00:00:00:00:0c dst 198\.18\.0\.12 dev flannel\.1/);
  });

  it('reports a route of ours nobody wants, device settings that differ, a failing pass and a stale subnet.env', async () => {
    const kernel = vxlanHost();
    kernel.routes.set('254|10.244.9.0/24|0', route({ dst: '10.244.9.0/24', gateway: IpAddress.parse('10.244.9.0'), linkIndex: 10, onlink: true }));
    const document = buildStatusDocument(await facts(kernel, {
      devices: [{ name: 'flannel.1', kind: 'vxlan', wanted: { vni: 1, mtu: 1450 }, actual: { vni: 1, mtu: 1500 } }, { name: 'flannel-v6.1', kind: 'vxlan', wanted: { vni: 1 } }],
      reconcile: { passes: 9, lastPass: { endedAtMs: NOW_MS, ok: false, durationMs: 3, changed: 1, errors: ['replace route 10.244.2.0/24: ENETUNREACH'] } },
      subnetEnv: { path: '/run/flannel/subnet.env', text: ENV.replace('1450', '1500'), wanted: ENV },
    }), NOW_MS);
    assert.deepEqual(document.peers.unexpectedRoutes, ['route 10.244.9.0/24 via 10.244.9.0 dev #10 onlink']);
    assert.deepEqual(document.devices.map((device) => device.differences), [['mtu: wanted 1450, kernel has 1500'], ['missing']]);
    assert.equal(document.reconcile.lastResult, 'failed');
    assert.deepEqual(document.subnetEnv.problems, ['FLANNEL_MTU: file has 1500, lease and config want 1450']);
    assert.equal(statusHealthy(document), false);
  });

  it('refuses a document of another version or shape', () => {
    assert.throws(() => checkStatusDocument({ version: 2 }), /unsupported version 2/);
    assert.throws(() => checkStatusDocument('x'), /expected a JSON object/);
    assert.throws(() => checkStatusDocument({ version: 1 }), /flanneld missing/);
  });
});

describe('lease records', () => {
  it('round-trip own, admitted and rejected leases; a malformed record is reported, not thrown', () => {
    const records = encodeLeaseTable({ own: OWN, admitted: [PEER], rejected: [{ lease: PEER, reason: 'overlap' }] });
    const { table, problems } = decodeLeaseTable([...JSON.parse(JSON.stringify(records)), { subnet: 'nope', attrs: '{}', state: 'admitted' }, 5]);
    assert.equal(table.own?.subnet.toString(), '10.244.1.0/24');
    assert.equal(table.admitted[0]?.attrs.publicIP.toString(), '198.18.0.12');
    assert.equal(table.admitted[0]?.expiresAtMs, PEER.expiresAtMs);
    assert.equal(table.rejected[0]?.reason, 'overlap');
    assert.equal(problems.length, 2);
    assert.match(problems[0] ?? '', /lease record 3: .*subnet/);
  });
});

describe('status socket', () => {
  it('serves /status, /leases and /metrics to the client, mode 0600, and removes a stale socket file', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'flannel-status-'));
    const path = join(directory, 'run', 'flanneld.sock');
    const statusFacts = await facts();
    const provider: StatusProvider = { statusFacts: async () => statusFacts, leases: () => ({ own: OWN, admitted: [PEER], rejected: [] }) };
    const first = await startStatusSocket(path, { provider, metrics: () => 'flannel_ready 1\n', clock: { now: () => NOW_MS } });
    try {
      assert.equal(statSync(path).mode & 0o777, 0o600);
      const document = checkStatusDocument(await getJsonFromStatusSocket(path, '/status'));
      assert.equal(document.flanneld.pid, 7);
      assert.equal(decodeLeaseTable(await getJsonFromStatusSocket(path, '/leases')).table.admitted.length, 1);
      assert.equal(await getFromStatusSocket(path, '/metrics'), 'flannel_ready 1\n');
      await assert.rejects(getFromStatusSocket(path, '/nope'), /answered 404/);
      await assert.rejects(startStatusSocket(path, { provider, clock: { now: () => NOW_MS } }), /in use by another process/);
    } finally {
      await first.close();
    }
    await assert.rejects(getFromStatusSocket(path, '/status'), /no flanneld answers on/);
    writeFileSync(path, 'not a socket');
    await assert.rejects(startStatusSocket(path, { provider, clock: { now: () => NOW_MS } }), /is not a socket/);
    rmSync(directory, { recursive: true, force: true });
  });

  it('answers 500 when the provider fails, and keeps serving', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'flannel-status-'));
    const path = join(directory, 'flanneld.sock');
    let fail = true;
    const statusFacts = await facts();
    const errors: string[] = [];
    const socket = await startStatusSocket(path, {
      provider: { statusFacts: async () => { if (fail) throw new Error('kernel read failed'); return statusFacts; }, leases: () => ({ admitted: [], rejected: [] }) },
      clock: { now: () => NOW_MS }, onError: (message) => errors.push(message),
    });
    try {
      await assert.rejects(getFromStatusSocket(path, '/status'), /answered 500/);
      assert.match(errors.join(), /kernel read failed/);
      fail = false;
      assert.equal(checkStatusDocument(await getJsonFromStatusSocket(path, '/status')).flanneld.ready, true);
    } finally {
      await socket.close();
      rmSync(directory, { recursive: true, force: true });
    }
  });
});

describe('durations in status text', () => {
  const cases: Array<[number, string]> = [[0, '0s'], [119, '119s'], [120, '2m'], [7199, '120m'], [7200, '2h00m'], [86_399, '24h00m'], [86_340, '23h59m']];
  for (const [seconds, text] of cases) it(`${seconds} s → ${text}`, () => assert.equal(formatDuration(seconds), text));
});
