/**
 * Masquerade and forward rules end to end, in both modes, with an "outside" namespace on the underlay that is
 * not part of the cluster. Each lab is removed after its suite even on failure.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { before, describe, it } from 'node:test';
import type { Lab } from '../../src/lab/lab.js';
import type { LabHost } from '../../src/lab/lab-layout.js';
import { inNetns } from '../../src/lab/shell.js';
import { sleep } from '../../src/support/timing.js';
import { captureWhile, labForSuite, waitFor } from '../support/lab-suite.js';

const FLANNELCTL = new URL('../../src/cmd/flannelctl.js', import.meta.url).pathname;

/** The source address `netns` sees on ICMP echo requests while `from` pings `to`. */
async function sourceSeen(netns: string, device: string, from: string, to: string, lab: Lab): Promise<string> {
  const output = await captureWhile(netns, device, ['icmp[icmptype] == icmp-echo'], 1, () => lab.ping(from, to, 1, 1));
  return /IP (\S+) > /.exec(output)?.[1] ?? `(nothing captured: ${output})`;
}

const writes = (lab: Lab, host: LabHost) => lab.flanneldLog(host).split('\n').filter((line) => line.includes('"firewall rules written"'));

describe('iptables mode with --ip-masq and --ip-blackhole-route', () => {
  const lab = labForSuite({ prefix: 'ftfw', hosts: 2, backend: 'vxlan', flanneldArgs: ['--ip-masq', '--ip-blackhole-route', '--iptables-resync=1'] });
  const [h1, h2] = lab.layout.hosts as [LabHost, LabHost];
  before(() => lab.createOutside());

  it('pod traffic to the outside is masqueraded to the host address; pod to pod keeps the pod address', async () => {
    assert.equal(await sourceSeen(lab.layout.outsideNetns, 'eth0', h1.podNetns, lab.layout.outsideIp, lab), h1.underlayIp);
    assert.ok(lab.ping(h1.podNetns, lab.layout.outsideIp, 1, 2), 'replies come back through conntrack');
    assert.equal(await sourceSeen(h2.podNetns, 'eth0', h1.podNetns, lab.podIp(h2) as string, lab), lab.podIp(h1));
  });

  it('installs upstream\u2019s chains and rules; subnet.env says FLANNEL_IPMASQ=true', () => {
    const nat = inNetns(h1.netns, 'iptables-save', ['-t', 'nat']).stdout;
    assert.match(nat, /-A POSTROUTING -m comment --comment "flanneld masq" -j FLANNEL-POSTRTG/);
    assert.match(nat, /-A FLANNEL-POSTRTG -m mark --mark 0x4000\/0x4000 -m comment --comment "flanneld masq" -j RETURN/);
    assert.match(nat, /-A FLANNEL-POSTRTG -s 10\.244\.0\.0\/16 ! -d 224\.0\.0\.0\/4 -m comment --comment "flanneld masq" -j MASQUERADE --random-fully/);
    assert.match(inNetns(h1.netns, 'iptables-save', ['-t', 'filter']).stdout, /-A FLANNEL-FWD -s 10\.244\.0\.0\/16 -m comment --comment "flanneld forward" -j ACCEPT/);
    assert.match(readFileSync(lab.subnetFile(h1), 'utf8'), /FLANNEL_IPMASQ=true\n$/);
  });

  it('a quiet resync writes nothing; a deleted chain and a reordered rule are restored within the resync period', async () => {
    const before = writes(lab, h1).length;
    await sleep(3500);
    assert.equal(writes(lab, h1).length, before, 'three quiet resyncs, no write');
    inNetns(h1.netns, 'iptables', ['-t', 'nat', '-D', 'POSTROUTING', '-m', 'comment', '--comment', 'flanneld masq', '-j', 'FLANNEL-POSTRTG']);
    inNetns(h1.netns, 'iptables', ['-t', 'nat', '-F', 'FLANNEL-POSTRTG']);
    inNetns(h1.netns, 'iptables', ['-t', 'nat', '-X', 'FLANNEL-POSTRTG']);
    const restored = await waitFor('chain restored', () => /-A FLANNEL-POSTRTG /.test(inNetns(h1.netns, 'iptables-save', ['-t', 'nat']).stdout), 2500);
    const rule = ['-s', '10.244.0.0/16', '-m', 'comment', '--comment', 'flanneld forward', '-j', 'ACCEPT'];
    inNetns(h1.netns, 'iptables', ['-D', 'FLANNEL-FWD', ...rule]);
    inNetns(h1.netns, 'iptables', ['-A', 'FLANNEL-FWD', ...rule]);
    const reordered = await waitFor('order restored', () => {
      const lines = inNetns(h1.netns, 'iptables-save', ['-t', 'filter']).stdout.split('\n').filter((line) => line.startsWith('-A FLANNEL-FWD'));
      return lines[0]?.includes('-s 10.244.0.0/16') === true;
    }, 2500);
    console.log(`chain restored after ${restored} ms, order after ${reordered} ms`);
    await waitFor('both writes logged', () => writes(lab, h1).length >= before + 2, 2000);
    assert.equal(writes(lab, h1).slice(before).every((line) => line.includes('reason="drift"')), true);
    assert.deepEqual(lab.pingMatrix(), []);
  });

  it('--ip-blackhole-route adds a blackhole for our subnet behind the bridge route', () => {
    const subnet = readFileSync(lab.subnetFile(h1), 'utf8').match(/FLANNEL_SUBNET=(\S+)\.1\/24/)?.[1];
    assert.match(inNetns(h1.netns, 'ip', ['route', 'show', 'type', 'blackhole']).stdout, new RegExp(`blackhole ${subnet?.replace(/\./g, '\\.')}\\.0/24 proto 111 metric 65535`));
  });

  it('rules stay when flanneld stops; switching to nftables removes the iptables chains', async () => {
    await lab.stopFlanneld(h1, 'SIGTERM');
    assert.match(inNetns(h1.netns, 'iptables-save', ['-t', 'nat']).stdout, /FLANNEL-POSTRTG/, 'kept across a stop');
    lab.putConfig({ ...lab.networkConfig(), EnableNFTables: true });
    const ready = lab.flanneldLog(h1).split('"flannel is ready"').length;
    lab.startFlanneld(h1);
    await waitFor('restarted in nftables mode', () => lab.flanneldLog(h1).split('"flannel is ready"').length > ready, 15_000);
    assert.doesNotMatch(inNetns(h1.netns, 'iptables-save', []).stdout, /FLANNEL-POSTRTG|FLANNEL-FWD/);
    assert.match(inNetns(h1.netns, 'nft', ['list', 'table', 'ip', 'flannel-ipv4']).stdout, /chain postrtg/);
  });

  it('flannelctl uninstall removes every rule, route and device flannel-ts owns', async () => {
    await lab.stopFlanneld(h1, 'SIGTERM');
    const output = inNetns(h1.netns, process.execPath, [FLANNELCTL, 'uninstall']).stdout;
    assert.match(output, /removed \d+ routes, devices \[flannel\.1\]/);
    assert.equal(inNetns(h1.netns, 'ip', ['route', 'show', 'proto', '111']).stdout.trim(), '');
    assert.equal(inNetns(h1.netns, 'ip', ['link', 'show', 'flannel.1'], { allowFailure: true }).status !== 0, true);
    assert.doesNotMatch(inNetns(h1.netns, 'nft', ['list', 'ruleset']).stdout, /flannel-ipv4/);
    assert.doesNotMatch(inNetns(h1.netns, 'iptables-save', []).stdout, /FLANNEL/);
  });
});

describe('nftables mode with --ip-masq', () => {
  const lab = labForSuite({ prefix: 'ftnf', hosts: 2, backend: 'vxlan', configExtra: { EnableNFTables: true }, flanneldArgs: ['--ip-masq', '--iptables-resync=1'] });
  const [h1, h2] = lab.layout.hosts as [LabHost, LabHost];
  before(() => lab.createOutside());

  it('masquerades to the outside, keeps pod addresses between pods, and writes no iptables rules', async () => {
    assert.equal(await sourceSeen(lab.layout.outsideNetns, 'eth0', h1.podNetns, lab.layout.outsideIp, lab), h1.underlayIp);
    assert.equal(await sourceSeen(h2.podNetns, 'eth0', h1.podNetns, lab.podIp(h2) as string, lab), lab.podIp(h1));
    assert.doesNotMatch(inNetns(h1.netns, 'iptables-save', []).stdout, /FLANNEL/);
    assert.match(inNetns(h1.netns, 'nft', ['list', 'table', 'ip', 'flannel-ipv4']).stdout, /ip saddr 10\.244\.0\.0\/16 ip daddr != 224\.0\.0\.0\/4 masquerade fully-random/);
  });

  it('a quiet resync writes nothing; a deleted chain is restored', async () => {
    const before = writes(lab, h1).length;
    await sleep(3500);
    assert.equal(writes(lab, h1).length, before, 'three quiet resyncs, no write');
    inNetns(h1.netns, 'nft', ['delete', 'chain', 'ip', 'flannel-ipv4', 'postrtg']);
    const restored = await waitFor('chain restored', () => /chain postrtg/.test(inNetns(h1.netns, 'nft', ['list', 'table', 'ip', 'flannel-ipv4']).stdout), 2500);
    console.log(`nft chain restored after ${restored} ms`);
    await waitFor('the write logged', () => writes(lab, h1).length === before + 1, 2000);
    assert.match(writes(lab, h1).at(-1) ?? '', / reason="drift"/);
  });
});

describe('without --ip-masq', () => {
  const lab = labForSuite({ prefix: 'ftnm', hosts: 2, backend: 'vxlan', cniDelegate: { ipMasq: false } });
  const [h1] = lab.layout.hosts as [LabHost, LabHost];
  before(() => lab.createOutside());

  it('flanneld masquerades nothing: the outside sees the pod address', async () => {
    assert.equal(await sourceSeen(lab.layout.outsideNetns, 'eth0', h1.podNetns, lab.layout.outsideIp, lab), lab.podIp(h1));
    assert.doesNotMatch(inNetns(h1.netns, 'iptables-save', ['-t', 'nat']).stdout, /FLANNEL-POSTRTG/);
    assert.match(readFileSync(lab.subnetFile(h1), 'utf8'), /FLANNEL_IPMASQ=false\n$/);
  });
});
