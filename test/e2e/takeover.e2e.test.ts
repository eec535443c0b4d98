/**
 * In-place takeover of a host upstream flanneld (v0.20.2) ran, and the uninstall guard, on a 2-host vxlan lab.
 *
 * h1's state is rebuilt as upstream leaves it (checked by running the upstream binary by hand, see
 * docs/upgrade.md): flannel.1 with a random locally administered MAC (vxlan id 1, local = the uplink's address,
 * dev eth0, dstport 8472, nolearning, MTU 1450, the subnet's .0/32), per peer a `proto boot` onlink route via
 * the peer's .0, a permanent neighbour and a permanent `self` FDB entry, and its lease in etcd carrying that
 * MAC. Also a peer that left while no flanneld ran (its route, neighbour and FDB entry are stale) and a route
 * that is not flannel's. Then our flanneld starts on h1 with the same lease while pods ping across.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { LabHost } from '../../src/lab/lab-layout.js';
import { inNetns } from '../../src/lab/shell.js';
import { labForSuite, waitFor } from '../support/lab-suite.js';

const FLANNELCTL = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', 'src', 'cmd', 'flannelctl.js');
const SUBNETS = '/coreos.com/network/subnets/';
const STALE = { subnet: '10.244.251.0/24', gateway: '10.244.251.0', mac: '02:42:de:ad:be:ef', publicIP: '198.18.0.99' };

/** Pings `ip` from `netns` every 10 ms for `seconds`; resolves to [sent, received]. */
function pingWindow(netns: string, ip: string, seconds: number): Promise<[number, number]> {
  return new Promise((resolve) => {
    const child = spawn('ip', ['netns', 'exec', netns, 'ping', '-n', '-q', '-i', '0.01', '-W', '1', '-w', String(seconds), ip], { stdio: ['ignore', 'pipe', 'ignore'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', () => {
      const match = /(\d+) packets transmitted, (\d+) received/.exec(output);
      resolve(match ? [Number(match[1]), Number(match[2])] : [0, 0]);
    });
  });
}

function flannelctl(host: LabHost, args: readonly string[]) {
  return inNetns(host.netns, process.execPath, [FLANNELCTL, ...args], { allowFailure: true });
}

describe('in-place takeover of an upstream flanneld host (vxlan)', () => {
  const lab = labForSuite({ prefix: 'fttk', hosts: 2, backend: 'vxlan' });
  const [h1, h2] = lab.layout.hosts as [LabHost, LabHost];
  const sh = (host: LabHost, command: string, args: string[]) => inNetns(host.netns, command, args).stdout;
  const subnetOf = (host: LabHost) => (/^FLANNEL_SUBNET=(\S+)\.1\/(\d+)$/m.exec(readFileSync(lab.subnetFile(host), 'utf8')) ?? assert.fail('no FLANNEL_SUBNET')).slice(1, 3) as [string, string];
  const macOf = (host: LabHost) => (/link\/ether (\S+)/.exec(sh(host, 'ip', ['link', 'show', 'flannel.1'])) ?? assert.fail('no flannel.1'))[1] as string;

  it('keeps the device and its MAC, adopts the routes, drops stale entries; pods keep pinging', async (context) => {
    const [net1, len1] = subnetOf(h1);
    const [net2, len2] = subnetOf(h2);
    const mac2 = macOf(h2);
    await lab.stopFlanneld(h1);
    assert.equal(flannelctl(h1, ['uninstall']).status, 0, 'h1 emptied before upstream state is built');

    // The state upstream flanneld v0.20.2 leaves on h1.
    const bytes = randomBytes(6);
    bytes[0] = ((bytes[0] as number) & 0xfe) | 0x02;
    const upstreamMac = [...bytes].map((byte) => byte.toString(16).padStart(2, '0')).join(':');
    for (const args of [
      ['link', 'add', 'flannel.1', 'address', upstreamMac, 'type', 'vxlan', 'id', '1', 'local', h1.underlayIp, 'dev', 'eth0', 'dstport', '8472', 'nolearning'],
      ['link', 'set', 'flannel.1', 'mtu', '1450'],
      ['addr', 'add', `${net1}.0/32`, 'dev', 'flannel.1'],
      ['link', 'set', 'flannel.1', 'up'],
      ['route', 'add', `${net2}.0/${len2}`, 'via', `${net2}.0`, 'dev', 'flannel.1', 'onlink'],
      ['neigh', 'add', `${net2}.0`, 'lladdr', mac2, 'dev', 'flannel.1', 'nud', 'permanent'],
      ['route', 'add', STALE.subnet, 'via', STALE.gateway, 'dev', 'flannel.1', 'onlink'],
      ['neigh', 'add', STALE.gateway, 'lladdr', STALE.mac, 'dev', 'flannel.1', 'nud', 'permanent'],
      ['route', 'add', '10.99.0.0/24', 'via', '198.18.0.1', 'dev', 'eth0'],
    ]) inNetns(h1.netns, 'ip', args);
    inNetns(h1.netns, 'bridge', ['fdb', 'add', mac2, 'dev', 'flannel.1', 'dst', h2.underlayIp, 'self', 'permanent']);
    inNetns(h1.netns, 'bridge', ['fdb', 'add', STALE.mac, 'dev', 'flannel.1', 'dst', STALE.publicIP, 'self', 'permanent']);
    const ifindex = sh(h1, 'ip', ['-o', 'link', 'show', 'flannel.1']).split(':')[0];
    assert.match(sh(h1, 'ip', ['-d', 'route', 'show', `${net2}.0/${len2}`]), /proto boot .*onlink/, "upstream's route carries proto boot");
    // Upstream republished the lease with its device's MAC (same key, same etcd lease); h2 follows it.
    lab.etcdctl(['put', '--ignore-lease', `${SUBNETS}${net1}.0-${len1}`, `{"PublicIP":"${h1.underlayIp}","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"${upstreamMac}"}}`]);
    await waitFor("h2's neighbour entry for h1 with upstream's MAC", () => sh(h2, 'ip', ['neigh', 'show', `${net1}.0`, 'dev', 'flannel.1']).includes(upstreamMac), 5000);
    assert.ok(lab.ping(h2.podNetns, lab.podIp(h1) as string, 1, 2), "pods reach each other over upstream's state");

    // Our flanneld takes over while pods ping both ways every 10 ms.
    const readyBefore = lab.flanneldLog(h1).split('"flannel is ready"').length;
    const pings = [pingWindow(h2.podNetns, lab.podIp(h1) as string, 5), pingWindow(h1.podNetns, lab.podIp(h2) as string, 5)];
    await new Promise((resolve) => setTimeout(resolve, 500));
    lab.startFlanneld(h1);
    await waitFor('our flanneld ready', () => lab.flanneldLog(h1).split('"flannel is ready"').length > readyBefore, 15_000);
    await waitFor('the stale peer route gone', () => !sh(h1, 'ip', ['route']).includes(STALE.subnet), 5000);
    const [[sent21, received21], [sent12, received12]] = await Promise.all(pings) as [[number, number], [number, number]];
    context.diagnostic(`pings during the takeover: h2→h1 ${received21}/${sent21}, h1→h2 ${received12}/${sent12} (lost ${sent21 - received21} and ${sent12 - received12})`);

    assert.equal(sh(h1, 'ip', ['-o', 'link', 'show', 'flannel.1']).split(':')[0], ifindex, 'the same device');
    assert.equal(macOf(h1), upstreamMac, 'its MAC kept');
    assert.match(sh(h1, 'ip', ['-d', 'route', 'show', `${net2}.0/${len2}`]), new RegExp(`^unicast ${net2.replace(/\./g, '\\.')}\\.0/${len2} via ${net2.replace(/\./g, '\\.')}\\.0 dev flannel\\.1 proto 111 .*onlink *\\n$`), 'one route to h2, ours now');
    assert.equal(sh(h1, 'ip', ['neigh', 'show', STALE.gateway, 'dev', 'flannel.1']).trim(), '', "the stale peer's neighbour removed");
    assert.doesNotMatch(sh(h1, 'bridge', ['fdb', 'show', 'dev', 'flannel.1']), new RegExp(STALE.mac), "the stale peer's FDB entry removed");
    assert.match(sh(h1, 'ip', ['neigh', 'show', `${net2}.0`, 'dev', 'flannel.1']), new RegExp(`lladdr ${mac2} PERMANENT`));
    assert.match(sh(h1, 'bridge', ['fdb', 'show', 'dev', 'flannel.1']), new RegExp(`${mac2} dst ${h2.underlayIp.replace(/\./g, '\\.')} self permanent`));
    assert.match(sh(h1, 'ip', ['route', 'show', '10.99.0.0/24']), /via 198\.18\.0\.1 dev eth0/, 'a route that is not flannel\'s stays');
    assert.match(lab.etcdctl(['get', `${SUBNETS}${net1}.0-${len1}`]).stdout, new RegExp(`"VtepMAC":"${upstreamMac}"`), 'the lease keeps the MAC');
    assert.match(sh(h2, 'ip', ['neigh', 'show', `${net1}.0`, 'dev', 'flannel.1']), new RegExp(upstreamMac), "peers' entries stay right");
    assert.ok(sent21 > 150 && sent12 > 150, `ping ran (${sent21}, ${sent12} sent)`);
    assert.equal(sent21 - received21 + sent12 - received12, 0, 'no ping lost across the takeover');
    assert.deepEqual(lab.pingMatrix(), []);
  });

  it('uninstall --help changes nothing; uninstall is refused while flanneld runs in the namespace', () => {
    const before = [sh(h1, 'ip', ['-d', 'link', 'show', 'flannel.1']), sh(h1, 'ip', ['route', 'show', 'proto', '111'])];
    const help = flannelctl(h1, ['uninstall', '--help']);
    assert.equal(help.status, 0);
    assert.match(help.stdout, /^Usage: flannelctl uninstall/);
    const refused = flannelctl(h1, ['uninstall']);
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, new RegExp(`^flannelctl uninstall: refused: flanneld is running in this network namespace \\(pid ${lab.flanneldPid(h1)}: `));
    assert.deepEqual([sh(h1, 'ip', ['-d', 'link', 'show', 'flannel.1']), sh(h1, 'ip', ['route', 'show', 'proto', '111'])], before, 'nothing removed');
    // The flanneld of another namespace does not block this one (h2's pod namespace holds no flannel state).
    const elsewhere = spawnSync('ip', ['netns', 'exec', h2.podNetns, process.execPath, FLANNELCTL, 'uninstall'], { encoding: 'utf8' });
    assert.equal(elsewhere.status, 0, elsewhere.stderr);
    assert.match(elsewhere.stdout, /^removed 0 routes, devices \[\]/);
  });
});
