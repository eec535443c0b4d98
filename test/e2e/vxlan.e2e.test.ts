/**
 * End to end on vxlan: 3 dual-stack hosts, real etcd, real flanneld, CNI pods; then a DirectRouting lab where
 * one host sits behind a router. Both labs are removed after their suite even on failure.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import type { Lab } from '../../src/lab/lab.js';
import type { LabHost } from '../../src/lab/lab-layout.js';
import { captureWhile, labForSuite, pingInBackground, waitFor } from '../support/lab-suite.js';
import { inNetns } from '../../src/lab/shell.js';
import { sleep } from '../../src/support/timing.js';

const SUBNETS = '/coreos.com/network/subnets/';


function text(host: LabHost, command: string, args: string[]): string {
  return inNetns(host.netns, command, args).stdout;
}

/** Captures up to `count` packets on a host's underlay while `traffic` runs. */
function capture(host: LabHost, filter: string, count: number, traffic: () => void): Promise<string> {
  return captureWhile(host.netns, 'eth0', filter.split(' '), count, traffic);
}

function subnetLine(lab: Lab, host: LabHost, key: 'FLANNEL_SUBNET' | 'FLANNEL_IPV6_SUBNET'): string {
  const line = readFileSync(lab.subnetFile(host), 'utf8').split('\n').find((l) => l.startsWith(`${key}=`)) ?? '';
  return line.slice(key.length + 1);
}

describe('vxlan lab (3 dual-stack hosts)', () => {
  const lab = labForSuite({ prefix: 'ftv', hosts: 3, backend: 'vxlan', dualStack: true });
  const [h1, h2, h3] = lab.layout.hosts as [LabHost, LabHost, LabHost];
  const peerSubnet = (host: LabHost) => subnetLine(lab, host, 'FLANNEL_SUBNET').replace(/\.1\//, '.0/');

  it('pods reach each other over IPv4 and IPv6', () => {
    assert.deepEqual(lab.pingMatrix(4), []);
    assert.deepEqual(lab.pingMatrix(6), []);
  });

  it('devices carry the configured VNI, port, learning and MTU', () => {
    const v4 = text(h1, 'ip', ['-d', 'link', 'show', 'flannel.1']);
    assert.match(v4, /mtu 1450 /);
    assert.match(v4, new RegExp(`vxlan id 1 local ${h1.underlayIp.replace(/\./g, '\\.')} dev eth0 .*dstport 8472 nolearning`));
    const v6 = text(h1, 'ip', ['-d', 'link', 'show', 'flannel-v6.1']);
    assert.match(v6, /mtu 1430 /);
    assert.match(v6, /vxlan id 1 local fd00:198::11 dev eth0 .*dstport 8472 nolearning/);
    assert.match(readFileSync(lab.subnetFile(h1), 'utf8'), /^FLANNEL_NETWORK=10\.244\.0\.0\/16\nFLANNEL_SUBNET=\S+\nFLANNEL_IPV6_NETWORK=fd00:10:244::\/56\nFLANNEL_IPV6_SUBNET=fd00:10:244:[0-9a-f]+::1\/64\nFLANNEL_MTU=1430\nFLANNEL_IPMASQ=false\n$/);
    assert.equal(text(h1, 'sysctl', ['-n', 'net.ipv6.conf.flannel/1.accept_ra']).trim(), '0');
  });

  it('per peer exactly one route, one permanent neighbour and one FDB entry, per family', () => {
    assert.equal(text(h1, 'ip', ['-4', 'route', 'show', 'proto', '111']).trim().split('\n').length, 2);
    assert.equal(text(h1, 'ip', ['-6', 'route', 'show', 'proto', '111']).trim().split('\n').length, 2);
    assert.equal(text(h1, 'ip', ['neigh', 'show', 'dev', 'flannel.1', 'nud', 'permanent']).trim().split('\n').length, 2);
    assert.equal(text(h1, 'bridge', ['fdb', 'show', 'dev', 'flannel.1']).trim().split('\n').length, 2);
    assert.equal(text(h1, 'bridge', ['fdb', 'show', 'dev', 'flannel-v6.1']).trim().split('\n').length, 2);
    const route = text(h1, 'ip', ['route', 'show', peerSubnet(h2)]);
    assert.match(route, new RegExp(`via ${peerSubnet(h2).split('/')[0]} dev flannel\\.1 .*onlink`));
  });

  it('pod traffic crosses the underlay as UDP 8472 carrying VNI 1', async () => {
    const output = await capture(h1, 'udp port 8472', 2, () => lab.ping(h1.podNetns, lab.podIp(h2) as string, 2));
    assert.match(output, new RegExp(`${h1.underlayIp.replace(/\./g, '\\.')}\\.\\d+ > ${h2.underlayIp.replace(/\./g, '\\.')}\\.8472: VXLAN, flags \\[I\\] \\(0x08\\), vni 1`));
  });

  it('every kind of drift is repaired within 1 s', async () => {
    const subnet = peerSubnet(h2);
    const gateway = subnet.split('/')[0] as string;
    const mac = text(h1, 'ip', ['neigh', 'show', gateway, 'dev', 'flannel.1']).split(' ')[2] as string;
    const timings: Record<string, number> = {};
    inNetns(h1.netns, 'ip', ['route', 'del', subnet]);
    timings.route = await waitFor('route back', () => text(h1, 'ip', ['route', 'show', subnet]).includes('flannel.1'), 1000);
    inNetns(h1.netns, 'ip', ['neigh', 'del', gateway, 'dev', 'flannel.1']);
    timings.neighbour = await waitFor('neighbour back', () => text(h1, 'ip', ['neigh', 'show', gateway, 'dev', 'flannel.1']).includes('PERMANENT'), 1000);
    inNetns(h1.netns, 'bridge', ['fdb', 'del', mac, 'dev', 'flannel.1', 'self']);
    timings.fdb = await waitFor('FDB entry back', () => text(h1, 'bridge', ['fdb', 'show', 'dev', 'flannel.1']).includes(mac), 1000);
    inNetns(h1.netns, 'ip', ['link', 'del', 'flannel.1']);
    timings.device = await waitFor('device and all its entries back', () => {
      const routes = inNetns(h1.netns, 'ip', ['-4', 'route', 'show', 'proto', '111'], { allowFailure: true }).stdout.trim().split('\n').filter(Boolean);
      const fdb = inNetns(h1.netns, 'bridge', ['fdb', 'show', 'dev', 'flannel.1'], { allowFailure: true }).stdout.trim().split('\n').filter(Boolean);
      return routes.length === 2 && fdb.length === 2;
    }, 1000);
    console.log(`drift repaired after (ms): ${JSON.stringify(timings)}`);
    assert.deepEqual(lab.pingMatrix(4), []);
  });

  it('flanneld SIGKILLed and restarted loses no ping', async () => {
    const before = subnetLine(lab, h1, 'FLANNEL_SUBNET');
    const pinging = pingInBackground(h2.podNetns, lab.podIp(h1) as string, 40);
    await sleep(500);
    const readyBefore = lab.flanneldLog(h1).split('"flannel is ready"').length;
    await lab.stopFlanneld(h1, 'SIGKILL');
    lab.startFlanneld(h1);
    await waitFor('restarted', () => lab.flanneldLog(h1).split('"flannel is ready"').length > readyBefore, 15_000);
    assert.equal(subnetLine(lab, h1, 'FLANNEL_SUBNET'), before);
    const { code, output } = await pinging;
    assert.equal(code, 0, output);
    assert.match(output, / 0% packet loss/, output);
  });

  it('a host whose lease is deleted disappears from the others\u2019 route, neighbour and FDB tables', async () => {
    const subnet = peerSubnet(h3);
    const v6 = subnetLine(lab, h3, 'FLANNEL_IPV6_SUBNET').replace(/::1\//, '::/');
    await lab.stopFlanneld(h3, 'SIGTERM');
    lab.etcdctl(['del', `${SUBNETS}${subnet.replace('/', '-')}&${v6.replace('/', '-')}`]);
    for (const host of [h1, h2]) {
      await waitFor(`${host.name} forgets h3`, () => {
        const all = text(host, 'ip', ['route', 'show', 'proto', '111']) + text(host, 'ip', ['-6', 'route', 'show', 'proto', '111']) +
          text(host, 'ip', ['neigh', 'show', 'nud', 'permanent']) + text(host, 'bridge', ['fdb', 'show', 'dev', 'flannel.1']) + text(host, 'bridge', ['fdb', 'show', 'dev', 'flannel-v6.1']);
        return !all.includes(subnet.split('/')[0] as string) && !all.includes(h3.underlayIp) && !all.includes(h3.underlayIpv6);
      }, 2000);
    }
  });
});

describe('vxlan DirectRouting (h3 behind a router)', () => {
  const lab = labForSuite({ prefix: 'ftd', hosts: 3, backend: 'vxlan', backendOptions: { DirectRouting: true }, routedHosts: [3] });
  const [h1, h2, h3] = lab.layout.hosts as [LabHost, LabHost, LabHost];

  it('on-link peers get a direct route, the others vxlan, and all pods connect', async () => {
    const routes = text(h1, 'ip', ['route', 'show', 'proto', '111']);
    assert.match(routes, new RegExp(`via ${h2.underlayIp.replace(/\./g, '\\.')} dev eth0`));
    assert.match(routes, /via (\S+) dev flannel\.1 onlink/);
    assert.equal(text(h1, 'ip', ['neigh', 'show', 'dev', 'flannel.1', 'nud', 'permanent']).trim().split('\n').length, 1);
    assert.deepEqual(lab.pingMatrix(), []);
    const direct = await capture(h1, `icmp and host ${lab.podIp(h2)}`, 1, () => lab.ping(h1.podNetns, lab.podIp(h2) as string, 1));
    assert.match(direct, /ICMP echo request/, 'plain ICMP on the underlay to the on-link peer');
    const tunnelled = await capture(h1, 'udp port 8472', 1, () => lab.ping(h1.podNetns, lab.podIp(h3) as string, 1));
    assert.match(tunnelled, new RegExp(`> ${h3.underlayIp.replace(/\./g, '\\.')}\\.8472: VXLAN`), 'VXLAN to the routed peer');
  });
});
