/**
 * End to end on wireguard, dual stack (flannel-wg for IPv4 on 51820, flannel-wg-v6 for IPv6 on 51821, Mode
 * separate): 3 simulated hosts, a real etcd, real flanneld processes each running wireguard-go (this kernel
 * has no WireGuard, so Implementation auto picks userspace), pods through our CNI plugin. Each flanneld has its
 * own /run/wireguard (lab-backends.ts); `wg` runs in its mount namespace (Lab.inFlanneld).
 */
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { LabHost } from '../../src/lab/lab-layout.js';
import { inNetns, run } from '../../src/lab/shell.js';
import { sleep } from '../../src/support/timing.js';
import { captureWhile, labForSuite, pingInBackground, settledPingMatrix, waitFor } from '../support/lab-suite.js';

const lab = labForSuite({ prefix: 'ftw', hosts: 3, backend: 'wireguard', dualStack: true, cniDelegate: { ipMasq: false } });
const [h1, h2, h3] = lab.layout.hosts as [LabHost, LabHost, LabHost];
const SUBNETS = '/coreos.com/network/subnets/';

/** `wg show <device> <field>` in the host's flanneld: one line per peer. */
function wgShow(host: LabHost, device: string, field: 'peers' | 'endpoints' | 'allowed-ips'): string[] {
  return lab.inFlanneld(host, 'wg', ['show', device, field]).stdout.trim().split('\n').filter((line) => line !== '').sort();
}

/** The etcd key and value of `host`'s lease. */
function leaseOf(host: LabHost): { key: string; value: string } {
  const lines = lab.etcdctl(['get', '--prefix', SUBNETS]).stdout.split('\n');
  for (let index = 0; index + 1 < lines.length; index += 2) {
    if (lines[index + 1]?.includes(`"PublicIP":"${host.underlayIp}"`)) return { key: lines[index] as string, value: lines[index + 1] as string };
  }
  return { key: '', value: '' };
}

function leaseValue(host: LabHost): string {
  return leaseOf(host).value;
}

function publicKey(host: LabHost): string {
  return /"BackendData":\{"PublicKey":"([^"]+)"/.exec(leaseValue(host))?.[1] ?? '';
}

function readyCount(host: LabHost): number {
  return lab.flanneldLog(host).split('\n').filter((line) => line.includes('"flannel is ready"')).length;
}

/** Pids of the wireguard-go running `device` inside the host (our child, or one a restarted flanneld adopted). */
function wireguardGoPids(host: LabHost, device: string): number[] {
  const pids = run('ip', ['netns', 'pids', host.netns]).stdout.trim().split('\n').map(Number).filter((pid) => pid > 0);
  return pids.filter((pid) => {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      return argv[0]?.endsWith('wireguard-go') === true && argv.includes(device);
    } catch {
      return false;
    }
  });
}

describe('wireguard lab, dual stack (3 hosts, real etcd, real flanneld with wireguard-go, CNI pods)', () => {
  it('every pod reaches every pod over WireGuard, IPv4 and IPv6', async (context) => {
    const v4 = await settledPingMatrix(lab, 4);
    assert.deepEqual(v4.failures, []);
    const v6 = await settledPingMatrix(lab, 6);
    assert.deepEqual(v6.failures, []);
    context.diagnostic(`ping matrices clean after ${v4.tookMs} ms (IPv4), ${v6.tookMs} ms (IPv6)`);
  });

  it('names its implementation at start; the peers are every other host, with their subnets and endpoints', () => {
    assert.match(lab.flanneldLog(h1), /"wireguard implementation" implementation="userspace" devices=\["flannel-wg","flannel-wg-v6"\] wireguardGo="[^"]*wireguard-go"/);
    assert.match(lab.flanneldLog(h1), /"backend selected" backend="wireguard" mtu=1420 .*"implementation":"auto: userspace"/);
    assert.deepEqual(wgShow(h1, 'flannel-wg', 'peers'), [publicKey(h2), publicKey(h3)].sort());
    assert.deepEqual(wgShow(h1, 'flannel-wg', 'endpoints'), [`${publicKey(h2)}\t${h2.underlayIp}:51820`, `${publicKey(h3)}\t${h3.underlayIp}:51820`].sort());
    assert.deepEqual(wgShow(h1, 'flannel-wg-v6', 'endpoints'), [`${publicKey(h2)}\t[${h2.underlayIpv6}]:51821`, `${publicKey(h3)}\t[${h3.underlayIpv6}]:51821`].sort());
    const v4 = lab.inFlanneld(h1, 'ip', ['-d', 'link', 'show', 'flannel-wg']).stdout;
    assert.match(v4, /mtu 1420 .*state UNKNOWN/s);
    assert.match(v4, /\n\s+tun type tun/, 'wireguard-go\'s device is a TUN');
  });

  it('the underlay carries only WireGuard UDP (51820, 51821): no pod address, no plain ICMP', async () => {
    const [v4, v6] = [lab.podIp(h2, 4) as string, lab.podIp(h2, 6) as string];
    const ping = (ip: string) => inNetns(h1.podNetns, 'ping', ['-n', '-q', '-c', '4', '-i', '0.2', '-W', '1', ip], { allowFailure: true });
    // Every UDP packet, and any ICMP echo (IPv4, IPv6 types 128/129) that would be a pod's ping in clear.
    const filter = 'udp or icmp or (icmp6 and (ip6[40] == 128 or ip6[40] == 129))'.split(' ');
    const output = await captureWhile(h1.netns, 'eth0', filter, 16, () => {
      ping(v4);
      ping(v6);
    }, 5, false);
    const lines = output.trim().split('\n');
    assert.ok(lines.filter((line) => /\.51820 > .*\.51820: UDP, length /.test(line)).length >= 6, output);
    assert.ok(lines.filter((line) => /\.51821 > .*\.51821: UDP, length /.test(line)).length >= 6, output);
    assert.deepEqual(lines.filter((line) => !/\.(51820|51821) > \S+\.(51820|51821): UDP, length /.test(line)), [], 'nothing but WireGuard: no pod address, no ICMP echo in clear');
  });

  it('the key file is 0400, and a restarted flanneld publishes the same public key', async () => {
    const keyFile = join(lab.hostDir(h2), 'wgkey');
    assert.equal(statSync(keyFile).mode & 0o777, 0o400);
    const before = leaseValue(h2);
    const key = publicKey(h2);
    const readyBefore = readyCount(h2);
    await lab.stopFlanneld(h2, 'SIGTERM');
    assert.deepEqual(wireguardGoPids(h2, 'flannel-wg'), [], 'a clean stop stops the wireguard-go it started');
    lab.startFlanneld(h2);
    await waitFor('restarted flanneld ready', () => readyCount(h2) > readyBefore, 15_000);
    assert.equal(publicKey(h2), key);
    assert.equal(leaseValue(h2), before, 'the lease is unchanged');
    assert.match(lab.flanneldLog(h2).split('\n').filter((line) => line.includes('"wireguard implementation"')).at(-1) ?? '', /keyCreated=false/);
    // h1 and h3 still hold their sessions with the old wireguard-go, which h2's new one cannot decrypt: h2 kicks
    // its peers into new handshakes at once (without that, WireGuard retries only after 5 s).
    const back = await waitFor('h1 reaches h2 again (IPv4 and IPv6)', () => [4, 6].every((family) => lab.ping(h1.podNetns, lab.podIp(h2, family as 4 | 6) as string, 1, 1)), 3500);
    console.log(`h1 → h2 pings answered ${back} ms after the restarted flanneld was ready`);
    assert.deepEqual(lab.pingMatrix(4), []);
    assert.deepEqual(lab.pingMatrix(6), []);
  });

  it('a peer removed by hand (`wg set … peer … remove`) is restored', async () => {
    const key = publicKey(h2);
    lab.inFlanneld(h1, 'wg', ['set', 'flannel-wg', 'peer', key, 'remove']);
    assert.ok(!wgShow(h1, 'flannel-wg', 'peers').includes(key));
    const elapsed = await waitFor('peer restored', () => wgShow(h1, 'flannel-wg', 'peers').includes(key), 5000);
    console.log(`peer restored after ${elapsed} ms`);
    assert.deepEqual(wgShow(h1, 'flannel-wg', 'allowed-ips').find((line) => line.startsWith(key)), `${key}\t${/FLANNEL_SUBNET=(\S+)\.1\/24/.exec(readFileSync(lab.subnetFile(h2), 'utf8'))?.[1]}.0/24`);
    assert.deepEqual(lab.pingMatrix(4), []);
  });

  it('wireguard-go SIGKILLed: restarted, reconfigured, pings resume', async () => {
    const [pid] = wireguardGoPids(h1, 'flannel-wg');
    assert.ok(pid, 'wireguard-go runs on h1');
    const killedAt = Date.now();
    process.kill(pid, 'SIGKILL');
    await waitFor('a new wireguard-go', () => wireguardGoPids(h1, 'flannel-wg').some((other) => other !== pid), 5000);
    await waitFor('pods reach each other again', () => lab.ping(h1.podNetns, lab.podIp(h2) as string, 1, 1), 10_000);
    console.log(`pings resumed ${Date.now() - killedAt} ms after SIGKILL`);
    assert.deepEqual(lab.pingMatrix(4), []);
  });

  it('flanneld SIGKILLed and restarted adopts the running wireguard-go: no ping lost', async () => {
    const wireguardGo = wireguardGoPids(h3, 'flannel-wg');
    const readyBefore = readyCount(h3);
    const pinging = pingInBackground(h1.podNetns, lab.podIp(h3) as string, 20);
    await sleep(300);
    await lab.stopFlanneld(h3, 'SIGKILL');
    lab.startFlanneld(h3);
    await waitFor('restarted flanneld ready', () => readyCount(h3) > readyBefore, 15_000);
    const { code, output } = await pinging;
    assert.equal(code, 0, output);
    assert.match(output, / 0% packet loss/, output);
    assert.match(lab.flanneldLog(h3), /"adopted a running wireguard-go"/);
    assert.deepEqual(wireguardGoPids(h3, 'flannel-wg'), wireguardGo, 'the same wireguard-go');
  });

  it('a peer whose lease is deleted is removed from the others', async () => {
    const key = publicKey(h3);
    const h3Key = leaseOf(h3).key;
    assert.ok(h3Key.startsWith(SUBNETS));
    await lab.stopFlanneld(h3, 'SIGTERM');
    assert.ok(wgShow(h1, 'flannel-wg', 'peers').includes(key), 'the peer stays while its lease lives');
    lab.etcdctl(['del', h3Key]);
    await waitFor('peer removed on h1 and h2 (both devices)', () =>
      [h1, h2].every((host) => !wgShow(host, 'flannel-wg', 'peers').includes(key) && !wgShow(host, 'flannel-wg-v6', 'peers').includes(key)), 5000);
    assert.deepEqual(wgShow(h1, 'flannel-wg', 'peers'), [publicKey(h2)]);
  });
});
