import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MemoryKernel } from '../../src/dataplane/memory-kernel.js';
import { neighbourKey, routeKey } from '../../src/dataplane/kernel-objects.js';
import type { Lease } from '../../src/lease/lease.js';
import { Cidr, IpAddress } from '../../src/net/ip.js';
import { MacAddress } from '../../src/net/mac.js';
import { parseFilterTable } from '../../src/ops/firewall-view.js';
import type { ProbeOutcome, ProbeTarget } from '../../src/ops/probe/probe-target.js';
import { gatherTraceFacts } from '../../src/ops/trace/gather-trace-facts.js';
import { memoryRouteResolver } from '../../src/ops/trace/memory-route-resolver.js';
import type { RouteAnswer, RouteQuery } from '../../src/ops/trace/route-resolver.js';
import { evaluateTrace } from '../../src/ops/trace/trace-evaluator.js';
import type { TraceReport, TraceWireguardPeer } from '../../src/ops/trace/trace-facts.js';
import { renderTraceText } from '../../src/ops/trace/trace-text.js';
import type { LeaseTable } from '../../src/ops/status-document.js';
import { NOW_MS, OWN, PEER, PEER_MAC, baseHost, leaseTable, route, setRoute, vxlanHost, vxlanLease } from '../support/trace-host.js';

const OWN_MAC_OTHER = MacAddress.parse('0e:00:00:00:00:0d');
const POLICY_ACCEPT = '*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\nCOMMIT\n';

interface Scenario {
  readonly kernel: MemoryKernel;
  readonly leases?: LeaseTable;
  readonly destination?: string;
  readonly source?: string;
  readonly firewall?: string;
  readonly probe?: ProbeOutcome['result'];
  readonly refuse?: (query: RouteQuery) => RouteAnswer | undefined;
  readonly wireguardPeers?: TraceWireguardPeer[];
}

async function trace(scenario: Scenario): Promise<TraceReport & { probed: ProbeTarget[] }> {
  const probed: ProbeTarget[] = [];
  const facts = await gatherTraceFacts({
    kernel: scenario.kernel,
    routes: memoryRouteResolver(scenario.kernel, scenario.refuse),
    leases: async () => scenario.leases ?? leaseTable(),
    networks: async () => [Cidr.parse('10.244.0.0/16')],
    firewall: async () => parseFilterTable(scenario.firewall ?? POLICY_ACCEPT),
    ...(scenario.wireguardPeers ? { wireguardPeers: async () => scenario.wireguardPeers } : {}),
    prober: {
      probe: async (targets) => {
        probed.push(...targets);
        return targets.map((target) => ({ peer: target.peer, result: scenario.probe ?? 'ok', ...(scenario.probe === 'ok' || !scenario.probe ? { rttMs: 0.4 } : {}) }));
      },
    },
    nowMs: () => NOW_MS,
  }, IpAddress.parse(scenario.destination ?? '10.244.2.5'), scenario.source ? IpAddress.parse(scenario.source) : undefined);
  return { ...evaluateTrace(facts), probed };
}

const broken = (report: TraceReport) => report.hops.filter((hop) => hop.status === 'broken').map((hop) => `${hop.step}: ${hop.detail}`);

describe('trace on a healthy vxlan host', () => {
  it('marks every hop ok, from the lease to the probe, and probes the peer with a VXLAN frame to its VTEP MAC', async () => {
    const report = await trace({ kernel: vxlanHost(), source: '10.244.1.5' });
    assert.deepEqual(broken(report), []);
    assert.deepEqual(report.hops.map((hop) => hop.step), ['lease', 'route', 'neighbour', 'fdb', 'underlay', 'mtu', 'forward', 'probe']);
    assert.ok(report.ok);
    assert.equal(report.probed[0]?.kind, 'vxlan');
    assert.equal(report.probed[0]?.destinationMac?.toString(), PEER_MAC.toString());
    assert.equal(report.probed[0]?.underlayDestination.toString(), '198.18.0.12');
    assert.match(renderTraceText(report), /^path ok$/m);
  });

  it('says a local destination goes to the bridge', async () => {
    const report = await trace({ kernel: vxlanHost(), destination: '10.244.1.7' });
    assert.deepEqual(report.hops.map((hop) => [hop.step, hop.status]), [['lease', 'ok'], ['route', 'ok']]);
    assert.match(report.hops[1]?.detail ?? '', /dev cni0/);
  });
});

describe('trace names each broken hop', () => {
  const cases: Array<[string, () => Scenario, RegExp]> = [
    ['FDB entry deleted', () => {
      const kernel = vxlanHost();
      kernel.neighbours.delete(neighbourKey({ kind: 'fdb', linkIndex: 10, mac: PEER_MAC, state: 0 }));
      return { kernel };
    }, /^fdb: missing FDB entry for 0e:00:00:00:00:0c on flannel\.1 \(want dst 198\.18\.0\.12\)/],
    ['FDB entry to the wrong host', () => {
      const kernel = vxlanHost();
      kernel.neighbours.set(neighbourKey({ kind: 'fdb', linkIndex: 10, mac: PEER_MAC, state: 0 }), { kind: 'fdb', linkIndex: 10, mac: PEER_MAC, ip: IpAddress.parse('198.18.0.99'), state: 0x80 });
      return { kernel };
    }, /^fdb: FDB entry .* sends to 198\.18\.0\.99, the peer's lease says 198\.18\.0\.12/],
    ['neighbour entry deleted', () => {
      const kernel = vxlanHost();
      kernel.neighbours.delete(neighbourKey({ kind: 'neigh', linkIndex: 10, ip: IpAddress.parse('10.244.2.0'), state: 0 }));
      return { kernel };
    }, /^neighbour: missing neighbour entry for 10\.244\.2\.0 on flannel\.1/],
    ['neighbour with a stale MAC', () => ({ kernel: vxlanHost(), leases: leaseTable(vxlanLease('10.244.2.0/24', '198.18.0.12', OWN_MAC_OTHER)) }),
      /^neighbour: neighbour 10\.244\.2\.0 on flannel\.1 has lladdr 0e:00:00:00:00:0c, the peer's lease says VtepMAC 0e:00:00:00:00:0d/],
    ['route deleted', () => {
      const kernel = vxlanHost();
      kernel.routes.delete(routeKey(route({ dst: '10.244.2.0/24' })));
      return { kernel };
    }, /^route: kernel: ENETUNREACH .*no route to 10\.244\.2\.0\/24/],
    ['route through the wrong device (a default route catches it)', () => {
      const kernel = vxlanHost();
      kernel.routes.delete(routeKey(route({ dst: '10.244.2.0/24' })));
      setRoute(kernel, route({ dst: '0.0.0.0/0', gateway: IpAddress.parse('198.18.0.1'), linkIndex: 2, protocol: 3 }));
      return { kernel };
    }, /^route: via 198\.18\.0\.1 dev eth0.*not into the vxlan device/],
    ['flannel.1 down', () => ({ kernel: vxlanHost({ up: false }) }), /^route: .*flannel\.1 is down/],
    ['MTU mismatch', () => ({ kernel: vxlanHost({ mtu: 1500 }) }), /^mtu: flannel\.1 MTU 1500 \+ 50 bytes of encapsulation > eth0 MTU 1500: MTU mismatch/],
    ['peer lease expired', () => ({ kernel: vxlanHost(), leases: leaseTable(vxlanLease('10.244.2.0/24', '198.18.0.12', PEER_MAC, { expiresAtMs: NOW_MS - 1000 })) }),
      /^lease: peer lease 10\.244\.2\.0\/24 expired at/],
    ['peer lease deleted', () => ({ kernel: vxlanHost(), leases: { own: OWN, admitted: [], rejected: [] } }), /^lease: no lease covers 10\.244\.2\.5 in 10\.244\.0\.0\/16/],
    ['peer lease rejected', () => ({ kernel: vxlanHost(), leases: { own: OWN, admitted: [], rejected: [{ lease: PEER, reason: 'PublicIP 198.18.0.12: taken' }] } }),
      /^lease: lease 10\.244\.2\.0\/24 \(198\.18\.0\.12\) is rejected by flanneld: PublicIP/],
    ['peer does not answer over UDP 8472', () => ({ kernel: vxlanHost(), probe: 'timeout' }), /^probe: no answer from 198\.18\.0\.12 over UDP 8472/],
    ['FORWARD policy DROP without accept rules', () => ({ kernel: vxlanHost(), source: '10.244.1.5', firewall: '*filter\n:FORWARD DROP [0:0]\nCOMMIT\n' }),
      /^forward: FORWARD policy DROP and no rule accepts 10\.244\.0\.0\/16/],
    ['INPUT drops UDP 8472 here', () => ({ kernel: vxlanHost(), firewall: '*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p udp -m udp --dport 8472 -j DROP\nCOMMIT\n' }),
      /^input: INPUT drops UDP 8472 here/],
    ['no route to the peer\'s public IP', () => {
      const kernel = vxlanHost();
      return { kernel, leases: leaseTable(vxlanLease('10.244.2.0/24', '203.0.113.9', PEER_MAC)) };
    }, /^underlay: no usable route to the peer's public IP 203\.0\.113\.9/],
    ['the kernel drops the source on input (rp_filter)', () => ({
      kernel: vxlanHost(), source: '10.244.1.5', refuse: (query) => (query.inputLinkIndex !== undefined ? { kind: 'refused', code: 'EINVAL', message: 'Invalid argument' } : undefined),
    }), /^input: the kernel drops packets from 10\.244\.1\.5 arriving on its device \(EINVAL\): strict rp_filter/],
    ['a blackhole route for the peer', () => {
      const kernel = vxlanHost();
      setRoute(kernel, route({ dst: '10.244.2.0/24', type: 'blackhole' }));
      return { kernel };
    }, /^route: kernel: EINVAL .*no route to 10\.244\.2\.0\/24/],
  ];
  for (const [what, scenario, expected] of cases) {
    it(what, async () => {
      const report = await trace(scenario());
      assert.equal(report.ok, false, renderTraceText(report));
      assert.ok(broken(report).some((line) => expected.test(line)), `${broken(report).join('\n')}\n--- wanted ${expected}`);
    });
  }
});

describe('trace on other backends', () => {
  const hostGwLease = (publicIP: string): Lease => ({ subnet: Cidr.parse('10.244.2.0/24'), attrs: { publicIP: IpAddress.parse(publicIP), backendType: 'host-gw' } });
  const hostGwOwn: Lease = { ...OWN, attrs: { publicIP: IpAddress.parse('198.18.0.11'), backendType: 'host-gw' } };
  it('host-gw: ok when the peer is on-link, broken ("peer not on-link") when it is not', async () => {
    const kernel = baseHost();
    setRoute(kernel, route({ dst: '10.244.2.0/24', gateway: IpAddress.parse('198.18.0.12'), linkIndex: 2 }));
    const ok = await trace({ kernel, leases: { own: hostGwOwn, admitted: [hostGwLease('198.18.0.12')], rejected: [] } });
    assert.deepEqual(broken(ok), []);
    assert.ok(ok.hops.some((hop) => hop.step === 'on-link' && hop.status === 'ok'));
    const far = baseHost();
    setRoute(far, route({ dst: '10.244.2.0/24', gateway: IpAddress.parse('198.19.5.5'), linkIndex: 2, onlink: true }));
    const report = await trace({ kernel: far, leases: { own: hostGwOwn, admitted: [hostGwLease('198.19.5.5')], rejected: [] } });
    assert.ok(broken(report).some((line) => /^on-link: peer 198\.19\.5\.5 is not on-link on eth0/.test(line)), broken(report).join('\n'));
  });

  it('udp: the route must lead into the TUN device; TUN MTU + 28 must fit', async () => {
    const udpOwn: Lease = { ...OWN, attrs: { publicIP: IpAddress.parse('198.18.0.11'), backendType: '' } };
    const udpPeer: Lease = { ...PEER, attrs: { publicIP: IpAddress.parse('198.18.0.12'), backendType: '' } };
    const kernel = baseHost().addLink({ index: 11, name: 'flannel0', mtu: 1472, up: true, kind: 'tun' });
    setRoute(kernel, route({ dst: '10.244.0.0/16', linkIndex: 11 }));
    const ok = await trace({ kernel, leases: { own: udpOwn, admitted: [udpPeer], rejected: [] } });
    assert.deepEqual(broken(ok), [], renderTraceText(ok));
    assert.equal(ok.probed[0]?.kind, 'udp');
    assert.equal(ok.probed[0]?.port, 8285);
    kernel.links.set(11, { index: 11, name: 'flannel0', mtu: 1480, up: true, kind: 'tun' });
    assert.ok(broken(await trace({ kernel, leases: { own: udpOwn, admitted: [udpPeer], rejected: [] } })).some((line) => line.startsWith('mtu: flannel0 MTU 1480 + 28')));
  });

  it('wireguard: a peer whose allowed IPs cover the destination, with the lease\'s endpoint', async () => {
    const wgLease = (subnet: string, ip: string): Lease => ({ subnet: Cidr.parse(subnet), attrs: { publicIP: IpAddress.parse(ip), backendType: 'wireguard', backendData: { PublicKey: 'K=', Port: 51820 } } });
    const kernel = baseHost().addLink({ index: 12, name: 'flannel-wg', mtu: 1420, up: true, kind: 'wireguard' });
    setRoute(kernel, route({ dst: '10.244.0.0/16', linkIndex: 12, scope: 253 }));
    const leases = { own: wgLease('10.244.1.0/24', '198.18.0.11'), admitted: [wgLease('10.244.2.0/24', '198.18.0.12')], rejected: [] };
    const peer = { device: 'flannel-wg', publicKey: 'K=', endpoint: '198.18.0.12:51820', allowedIps: [Cidr.parse('10.244.2.0/24')], lastHandshakeEpochMs: NOW_MS - 10_000 };
    assert.deepEqual(broken(await trace({ kernel, leases, wireguardPeers: [peer] })), []);
    assert.ok(broken(await trace({ kernel, leases, wireguardPeers: [] })).some((line) => /^wireguard-peer: no peer on flannel-wg has allowed IPs covering 10\.244\.2\.5/.test(line)));
    assert.ok(broken(await trace({ kernel, leases, wireguardPeers: [{ ...peer, endpoint: '198.18.0.77:51820' }] })).some((line) => /endpoint 198\.18\.0\.77:51820, the lease says 198\.18\.0\.12:51820/.test(line)));
  });
});
