/**
 * End to end on the udp backend: 3 hosts, real etcd, real flanneld (TUN flannel0, UDP 8285), CNI pods, and an
 * "outside" namespace on the underlay that is not a member. What upstream's udp backend does, and what ours
 * does better: strangers' datagrams dropped and counted, ICMP net unreachable that reaches the pod, flannel0
 * and its route repaired within a second, peer churn that never stalls traffic, a prompt SIGTERM.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { before, describe, it } from 'node:test';
import type { Lab } from '../../src/lab/lab.js';
import type { LabHost } from '../../src/lab/lab-layout.js';
import { inNetns, processAlive } from '../../src/lab/shell.js';
import { sleep } from '../../src/support/timing.js';
import { icmpEcho } from '../support/ipv4-packets.js';
import { captureWhile, labForSuite, waitFor } from '../support/lab-suite.js';

const SUBNETS = '/coreos.com/network/subnets/';

function text(host: LabHost, command: string, args: string[]): string {
  return inNetns(host.netns, command, args, { allowFailure: true }).stdout;
}

/** The host's subnet (10.244.N.0/24) from its subnet.env. */
function subnetOf(lab: Lab, host: LabHost): string {
  const line = readFileSync(lab.subnetFile(host), 'utf8').split('\n').find((l) => l.startsWith('FLANNEL_SUBNET=')) ?? '';
  return line.slice('FLANNEL_SUBNET='.length).replace(/\.1\//, '.0/');
}

/** Sends one UDP datagram from `netns` (bound to `from`) to `to`:8285. */
function sendDatagram(netns: string, from: string, to: string, payload: Buffer): void {
  const script = `const s=require('node:dgram').createSocket('udp4');s.bind(0,'${from}',()=>s.send(Buffer.from('${payload.toString('hex')}','hex'),8285,'${to}',()=>s.close()))`;
  inNetns(netns, process.execPath, ['-e', script]);
}

/** Pings `ip` from `netns` at `intervalS` for `count` packets in the background; resolves with ping's output. */
function pingInBackground(netns: string, ip: string, count: number, intervalS: number): Promise<string> {
  const pinger = spawn('ip', ['netns', 'exec', netns, 'ping', '-n', '-i', String(intervalS), '-c', String(count), '-W', '1', ip], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  pinger.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return new Promise((resolve) => pinger.once('exit', () => resolve(output)));
}

function answeredSequences(output: string): number[] {
  return [...output.matchAll(/icmp_seq=(\d+) ttl/g)].map((match) => Number(match[1]));
}

describe('udp lab (3 hosts, UDP 8285)', () => {
  const lab = labForSuite({ prefix: 'ftu', hosts: 3, backend: 'udp' });
  const [h1, h2, h3] = lab.layout.hosts as [LabHost, LabHost, LabHost];
  before(() => lab.createOutside());

  it('pods reach each other; flannel0, its /32, MTU, the Network route and the lease are upstream\u2019s', () => {
    assert.deepEqual(lab.pingMatrix(), []);
    assert.match(text(h1, 'ip', ['-d', 'link', 'show', 'flannel0']), /flannel0: <POINTOPOINT,MULTICAST,NOARP,UP,LOWER_UP> mtu 1472 [\s\S]*tun type tun pi off/);
    const subnet = subnetOf(lab, h1);
    assert.equal(text(h1, 'ip', ['-4', '-o', 'addr', 'show', 'dev', 'flannel0']).match(/inet (\S+)/)?.[1], subnet.replace('/24', '/32'));
    assert.equal(text(h1, 'ip', ['-6', 'addr', 'show', 'dev', 'flannel0']), '', 'no IPv6 (no link-local, no router solicitations into the TUN)');
    assert.equal(text(h1, 'ip', ['route', 'show', 'proto', '111']).trim(), '10.244.0.0/16 dev flannel0', 'one route, scope universe');
    assert.match(readFileSync(lab.subnetFile(h1), 'utf8'), /FLANNEL_MTU=1472\n/);
    const value = lab.etcdctl(['get', '--print-value-only', `${SUBNETS}${subnet.replace('/', '-')}`]).stdout.trim();
    assert.equal(value, `{"PublicIP":"${h1.underlayIp}","PublicIPv6":null}`);
  });

  it('pod traffic crosses the underlay as UDP 8285, each datagram one whole inner IPv4 packet', async () => {
    const output = await captureWhile(h1.netns, 'eth0', ['-x', 'udp', 'port', '8285'], 1, () => lab.ping(h1.podNetns, lab.podIp(h2) as string, 1), 6, false);
    assert.match(output, new RegExp(`${h1.underlayIp.replace(/\./g, '\\.')}\\.8285 > ${h2.underlayIp.replace(/\./g, '\\.')}\\.8285: UDP, length 84`));
    const bytes = Buffer.from([...output.matchAll(/^\s+0x[0-9a-f]+:\s+((?:[0-9a-f]{4}\s?)+)/gm)].map((match) => (match[1] as string).replace(/\s/g, '')).join(''), 'hex');
    const inner = bytes.subarray(28);
    assert.deepEqual([inner[0], inner[9], inner.length], [0x45, 1, 84], 'IPv4, ICMP, the 84-byte echo request');
    const address = (offset: number) => [...inner.subarray(offset, offset + 4)].join('.');
    // The lab's CNI bridge masquerades what its pods send off their subnet (ipMasq, as flannel's CNI plugin
    // sets it when flanneld does not masquerade), so the source is h1's flannel0 address.
    assert.deepEqual([address(12), address(16)], [subnetOf(lab, h1).split('/')[0], lab.podIp(h2)]);
    assert.equal(inner[8], 62, 'the pod sent TTL 64: one spent by h1 forwarding it into flannel0, one by us on the way out, as upstream');
  });

  it('a datagram from a namespace that is not a member never reaches a pod, and is counted; the same from a peer does', async () => {
    const spoofed = icmpEcho(subnetOf(lab, h2).replace(/0\/24$/, '77'), lab.podIp(h1) as string, { sequence: 4242 });
    const inPod = (netns: string, from: string) => captureWhile(h1.podNetns, 'eth0', ['icmp', 'and', 'icmp[icmptype] == 8'], 1, () => sendDatagram(netns, from, h1.underlayIp, spoofed), 2);
    const stranger = await inPod(lab.layout.outsideNetns, lab.layout.outsideIp);
    assert.doesNotMatch(stranger, /ICMP echo request/, stranger);
    await waitFor('the drop in flanneld\u2019s log', () => /"udp data path dropped packets"[^\n]*dropUnknownSource/.test(lab.flanneldLog(h1)), 3000);
    const fromPeer = await inPod(h2.netns, h2.underlayIp);
    assert.match(fromPeer, /ICMP echo request, id \d+, seq 4242/, 'the test can tell arrival: from a peer it arrives');
  });

  it('a destination no host leases earns ICMP net unreachable that reaches the pod (upstream\u2019s is dropped as a martian)', async () => {
    const leased = new Set(lab.layout.hosts.map((host) => subnetOf(lab, host).split('.')[2]));
    const third = [251, 252, 253, 254].find((n) => !leased.has(String(n)));
    const target = `10.244.${third}.7`;
    let connect = '';
    const output = await captureWhile(h1.podNetns, 'eth0', ['-v', 'icmp'], 1, () => {
      connect = inNetns(h1.podNetns, 'timeout', ['3', 'bash', '-c', `echo > /dev/tcp/${target}/80`], { allowFailure: true }).stderr;
    }, 4);
    assert.match(connect, /Network is unreachable/, 'connect() fails at once instead of timing out');
    assert.match(output, /ttl 8, [\s\S]*proto ICMP[\s\S]*\n\s+(\S+) > (\S+): ICMP net (\S+) unreachable/);
    const [, from, to, net] = /\n\s+(\S+) > (\S+): ICMP net (\S+) unreachable/.exec(output) as RegExpExecArray;
    assert.deepEqual([from, to, net], [subnetOf(lab, h1).split('/')[0], lab.podIp(h1), target], 'upstream\u2019s bytes: from our flannel0 address');
  });

  it('flannel0 or its route deleted: back within 1 s, and pods reach each other again', async () => {
    inNetns(h1.netns, 'ip', ['route', 'del', '10.244.0.0/16', 'dev', 'flannel0']);
    const route = await waitFor('route back', () => text(h1, 'ip', ['route', 'show', 'proto', '111']).includes('dev flannel0'), 1000);
    inNetns(h1.netns, 'ip', ['link', 'del', 'flannel0']);
    const device = await waitFor('flannel0 back with its address and route', () =>
      /[<,]UP[,>][\s\S]*inet 10\.244\./.test(text(h1, 'ip', ['addr', 'show', 'dev', 'flannel0'])) && text(h1, 'ip', ['route', 'show', 'proto', '111']).includes('dev flannel0'), 1000);
    console.log(`udp drift repaired after (ms): ${JSON.stringify({ route, device })}`);
    assert.deepEqual(lab.pingMatrix(), []);
    assert.match(lab.flanneldLog(h1), /"udp device opened again"/);
  });

  it('peer churn never stalls the data path', async () => {
    const leased = new Set(lab.layout.hosts.map((host) => subnetOf(lab, host)));
    const fakes = Array.from({ length: 40 }, (_, i) => `10.244.${200 + i}.0/24`).filter((subnet) => !leased.has(subnet)).slice(0, 20);
    const pings = pingInBackground(h2.podNetns, lab.podIp(h1) as string, 200, 0.01);
    await sleep(200);
    for (const [i, subnet] of fakes.entries()) lab.etcdctl(['put', `${SUBNETS}${subnet.replace('/', '-')}`, `{"PublicIP":"198.18.0.${100 + i}","PublicIPv6":null}`]);
    for (const subnet of fakes) lab.etcdctl(['del', `${SUBNETS}${subnet.replace('/', '-')}`]);
    const output = await pings;
    console.log(`udp peer churn (${fakes.length} leases added and removed during 200 pings): ${output.trim().split('\n').slice(-2).join(' | ')}`);
    assert.match(output, / 0% packet loss/, output.slice(-500));
  });

  it('SIGKILL and a restart: flannel0 comes back with the same subnet and pings resume', async () => {
    const subnet = subnetOf(lab, h1);
    const pings = pingInBackground(h2.podNetns, lab.podIp(h1) as string, 60, 0.05);
    await sleep(500);
    const readyBefore = lab.flanneldLog(h1).split('"flannel is ready"').length;
    await lab.stopFlanneld(h1, 'SIGKILL');
    lab.startFlanneld(h1);
    await waitFor('restarted', () => lab.flanneldLog(h1).split('"flannel is ready"').length > readyBefore, 15_000);
    const output = await pings;
    const answered = answeredSequences(output);
    console.log(`udp SIGKILL + restart: ${60 - answered.length} of 60 pings (50 ms apart) lost`);
    assert.equal(subnetOf(lab, h1), subnet);
    assert.ok(answered.includes(60) && answered.includes(59) && answered.includes(58), `pings resumed: ${output.slice(-300)}`);
  });

  it('SIGTERM: flanneld exits cleanly within 1 s and its device goes with it', async () => {
    const pid = lab.flanneldPid(h3) as number;
    process.kill(pid, 'SIGTERM');
    const exit = await waitFor('flanneld to exit', () => !processAlive(pid), 1000);
    console.log(`udp SIGTERM: exited after ${exit} ms`);
    assert.match(lab.flanneldLog(h3), /"exiting cleanly"/);
    assert.doesNotMatch(text(h3, 'ip', ['link', 'show']), /flannel0/);
  });
});
