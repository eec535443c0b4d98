import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Cidr, IpAddress } from '../../src/net/ip.js';
import { MacAddress } from '../../src/net/mac.js';
import { forwardAllows, parseFilterTable } from '../../src/ops/firewall-view.js';
import { DatapathHealth } from '../../src/ops/probe/datapath-health.js';
import { PeerHealth } from '../../src/ops/probe/peer-health.js';
import { samplePeers } from '../../src/ops/probe/peer-sample.js';
import { encodeIcmpEcho, encodeIpv4, encodeVxlanFrame, internetChecksum, parseEchoReply } from '../../src/ops/probe/probe-packets.js';
import type { ProbeOutcome, ProbeTarget } from '../../src/ops/probe/probe-target.js';
import { probeTargetFor } from '../../src/ops/probe/probe-target.js';
import { createMetricsService } from '../../src/metrics/metrics-service.js';
import { FakeClock } from '../support/fake-clock.js';
import { OWN, OWN_MAC, PEER, vxlanLease } from '../support/trace-host.js';
import { captureLogger } from '../support/capture-logger.js';

describe('probe packets', () => {
  it('builds a VXLAN frame with the I flag, the VNI, the MACs and a valid inner IPv4/ICMP echo', () => {
    const echo = encodeIcmpEcho(0x4242, 7);
    assert.equal(internetChecksum(echo), 0, 'ICMP checksum verifies');
    const inner = encodeIpv4(IpAddress.parse('10.244.1.0'), IpAddress.parse('10.244.2.0'), 1, echo);
    assert.equal(internetChecksum(inner.subarray(0, 20)), 0, 'IP header checksum verifies');
    const frame = encodeVxlanFrame(0x123456, MacAddress.parse('0e:00:00:00:00:0c'), OWN_MAC, inner);
    assert.equal(frame.subarray(0, 8).toString('hex'), '0800000012345600');
    assert.equal(frame.subarray(8, 22).toString('hex'), '0e000000000c' + '0e000000000b' + '0800');
    assert.deepEqual(frame.subarray(22), inner);
  });

  it('parses an echo reply (as a raw ICMP socket delivers it) and nothing else', () => {
    const reply = Buffer.from(encodeIpv4(IpAddress.parse('10.244.2.0'), IpAddress.parse('10.244.1.0'), 1, encodeIcmpEcho(9, 3)));
    reply[20] = 0;
    assert.deepEqual(parseEchoReply(reply), { source: IpAddress.parse('10.244.2.0'), identifier: 9, sequence: 3 });
    assert.equal(parseEchoReply(encodeIpv4(IpAddress.parse('10.244.2.0'), IpAddress.parse('10.244.1.0'), 1, encodeIcmpEcho(9, 3))), undefined, 'a request');
    for (const junk of [Buffer.alloc(0), Buffer.alloc(19), Buffer.from([0x45, ...Buffer.alloc(30)]), Buffer.from([0x4f, ...Buffer.alloc(30, 1)])]) assert.equal(parseEchoReply(junk), undefined);
  });

  it('targets per backend: VXLAN to the lease\'s VTEP MAC from our public IP, udp to 8285, routed for wireguard; a reason when there is none', () => {
    const context = { backendType: 'vxlan', own: OWN, ownVtepMac: OWN_MAC, vni: 1, port: 8472 };
    const vxlan = probeTargetFor(context, PEER) as ProbeTarget;
    assert.deepEqual([vxlan.kind, vxlan.port, vxlan.bindAddress?.toString(), vxlan.innerSource?.toString(), vxlan.innerDestination.toString()], ['vxlan', 8472, '198.18.0.11', '10.244.1.0', '10.244.2.0']);
    assert.deepEqual(probeTargetFor(context, { ...PEER, attrs: { ...PEER.attrs, backendData: {} } }), { skip: '10.244.2.0/24: lease has no VtepMAC' });
    assert.deepEqual(probeTargetFor({ ...context, ownVtepMac: undefined }, PEER), { skip: 'our VXLAN device is missing (no VTEP MAC to send from)' });
    assert.equal((probeTargetFor({ backendType: '', own: OWN }, PEER) as ProbeTarget).port, 8285);
    assert.equal((probeTargetFor({ backendType: 'wireguard', own: OWN }, PEER) as ProbeTarget).kind, 'routed');
  });
});

describe('peer sampling', () => {
  const peers = Array.from({ length: 10 }, (_, index) => `p${index}`);
  it('moves a window round-robin over all peers, and adds the unsettled ones', () => {
    assert.deepEqual(samplePeers(peers, (peer) => peer, 4, 0), ['p0', 'p1', 'p2', 'p3']);
    assert.deepEqual(samplePeers(peers, (peer) => peer, 4, 2), ['p8', 'p9', 'p0', 'p1']);
    assert.deepEqual(samplePeers(peers, (peer) => peer, 4, 1, new Set(['p0', 'p5'])), ['p4', 'p5', 'p6', 'p7', 'p0']);
    assert.equal(samplePeers(peers, (peer) => peer, 20, 3).length, 10);
    const seen = new Set(Array.from({ length: 3 }, (_, round) => samplePeers(peers, (peer) => peer, 4, round)).flat());
    assert.equal(seen.size, 10, 'every peer within ceil(10/4) rounds');
  });
});

describe('peer health (hysteresis)', () => {
  const round = (health: PeerHealth, result: ProbeOutcome['result']) => health.record([{ peer: 'p', result }]);
  it('down after 3 misses in a row, up after 2 answers in a row; one miss is only suspect; send errors say nothing', () => {
    const health = new PeerHealth();
    assert.deepEqual(round(health, 'timeout'), []);
    assert.deepEqual(round(health, 'ok'), [], 'a single loss recovers silently');
    assert.deepEqual(round(health, 'timeout'), []);
    assert.deepEqual(round(health, 'error'), []);
    assert.deepEqual(round(health, 'timeout'), []);
    assert.deepEqual(round(health, 'timeout'), [{ peer: 'p', from: 'suspect', to: 'down' }]);
    assert.deepEqual(health.down(), ['p']);
    assert.deepEqual(round(health, 'timeout'), [], 'reported once');
    assert.deepEqual(round(health, 'ok'), []);
    assert.deepEqual(round(health, 'ok'), [{ peer: 'p', from: 'down', to: 'up' }]);
    assert.deepEqual(health.down(), []);
    health.retain(new Set());
    assert.equal(health.watched, 0);
  });
});

describe('datapath health', () => {
  it('logs a peer that stops answering once, exports it, and says so again when it answers; /readyz is not involved', async () => {
    const { metrics, registry } = createMetricsService({ version: 'x' });
    const { logger, messages } = captureLogger();
    let answering = true;
    const second = vxlanLease('10.244.3.0/24', '198.18.0.13', OWN_MAC);
    const health = new DatapathHealth({
      prober: { probe: async (targets) => targets.map((target) => ({ peer: target.peer, result: answering || target.peer !== '10.244.2.0/24' ? 'ok' : 'timeout', rttMs: 0.5 })) },
      current: () => ({ context: { backendType: 'vxlan', own: OWN, ownVtepMac: OWN_MAC }, peers: [PEER, second] }),
      metrics: metrics.datapath.probes, logger, clock: new FakeClock(), sampleSize: 1,
    });
    for (let index = 0; index < 4; index++) await health.probeRound();
    answering = false;
    for (let index = 0; index < 4; index++) await health.probeRound();
    assert.deepEqual(health.unreachable(), ['10.244.2.0/24']);
    assert.equal(registry.value('flannel_peers_unreachable'), 1);
    assert.equal(messages('peer unreachable over the overlay').length, 1);
    assert.equal(messages('peer unreachable over the overlay')[0]?.publicIP, '198.18.0.12');
    answering = true;
    for (let index = 0; index < 2; index++) await health.probeRound();
    assert.deepEqual(health.unreachable(), []);
    assert.equal(registry.value('flannel_peers_unreachable'), 0);
    assert.equal(messages('peer reachable over the overlay again').length, 1);
    assert.ok((registry.value('flannel_peer_probes_total', { result: 'timeout' }) ?? 0) >= 3);
  });
});

describe('firewall view (iptables-save -t filter)', () => {
  const saved = [
    '*nat', ':POSTROUTING ACCEPT [0:0]', '-A POSTROUTING -j FLANNEL-POSTRTG', 'COMMIT',
    '*filter', ':INPUT ACCEPT [0:0]', ':FORWARD DROP [0:0]', ':FLANNEL-FWD - [0:0]',
    '-A INPUT -p udp -m udp --dport 8472 -j DROP', '-A INPUT -s 198.18.0.0/24 -p udp -m udp --dport 8285 -j DROP', '-A INPUT -p udp -m udp ! --dport 53 -j REJECT',
    '-A FORWARD -m comment --comment "flanneld forward" -j FLANNEL-FWD',
    '-A FLANNEL-FWD -s 10.244.0.0/16 -m comment --comment "flanneld forward" -j ACCEPT', 'COMMIT',
  ].join('\n');
  it('reads the FORWARD policy, accepts through FLANNEL-FWD, and INPUT drops of a UDP port for every source', () => {
    const view = parseFilterTable(saved);
    assert.equal(view.forwardPolicy, 'DROP');
    assert.ok(view.flannelForwardHooked);
    assert.ok(forwardAllows(view, Cidr.parse('10.244.0.0/16')));
    assert.ok(!forwardAllows(view, Cidr.parse('10.42.0.0/16')));
    assert.deepEqual(view.inputUdpDrops.map((drop) => drop.port), [8472]);
  });
  it('FLANNEL-FWD accepts count only when FORWARD jumps to it', () => {
    const view = parseFilterTable(saved.replace('-A FORWARD -m comment --comment "flanneld forward" -j FLANNEL-FWD\n', ''));
    assert.ok(!forwardAllows(view, Cidr.parse('10.244.0.0/16')));
  });
});
