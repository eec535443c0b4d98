/**
 * End to end on wireguard, IPv4 only, with every option a cluster sets by hand: ListenPort, PSK,
 * PersistentKeepaliveInterval and MTU. 3 simulated hosts, a real etcd, real flanneld processes running
 * wireguard-go (userspace: this kernel has no WireGuard), pods through our CNI plugin. The dual-stack file covers
 * the defaults, drift repair and restarts; this one checks that the options reach wireguard-go and the lease.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LabHost } from '../../src/lab/lab-layout.js';
import { labForSuite, settledPingMatrix } from '../support/lab-suite.js';

// `wg genpsk` output; the same on every host, as upstream requires.
const PSK = 'u70T3IAJT2QOL31e23tNUzNKWE5m898u3eQfpPBfg2c=';
const PORT = 51900;
const lab = labForSuite({
  prefix: 'ftw4', hosts: 3, backend: 'wireguard', cniDelegate: { ipMasq: false },
  backendOptions: { ListenPort: PORT, PSK, PersistentKeepaliveInterval: 7, MTU: 1400 },
});
const [h1, h2, h3] = lab.layout.hosts as [LabHost, LabHost, LabHost];

/** `wg show flannel-wg <field>` in the host's flanneld: its lines, sorted. */
function wgShow(host: LabHost, field: string): string[] {
  return lab.inFlanneld(host, 'wg', ['show', 'flannel-wg', field]).stdout.trim().split('\n').filter((line) => line !== '').sort();
}

function lease(host: LabHost): string {
  return lab.etcdctl(['get', '--prefix', '/coreos.com/network/subnets/']).stdout.split('\n').find((line) => line.includes(`"PublicIP":"${host.underlayIp}"`)) ?? '';
}

function publicKey(host: LabHost): string {
  return /"BackendData":\{"PublicKey":"([^"]+)","Port":(\d+)\}/.exec(lease(host))?.[1] ?? '';
}

describe('wireguard lab, IPv4 only, ListenPort/PSK/PersistentKeepaliveInterval/MTU set (3 hosts, wireguard-go)', () => {
  it('every pod reaches every pod over WireGuard', async (context) => {
    const { failures, tookMs } = await settledPingMatrix(lab, 4);
    assert.deepEqual(failures, []);
    context.diagnostic(`ping matrix clean after ${tookMs} ms`);
  });

  it('the lease publishes the configured port; wireguard-go listens on it and reaches peers there', () => {
    assert.match(lease(h2), new RegExp(`"BackendData":\\{"PublicKey":"[A-Za-z0-9+/]{43}=","Port":${PORT}\\}`));
    assert.deepEqual(wgShow(h1, 'listen-port'), [String(PORT)]);
    assert.deepEqual(wgShow(h1, 'endpoints'), [`${publicKey(h2)}\t${h2.underlayIp}:${PORT}`, `${publicKey(h3)}\t${h3.underlayIp}:${PORT}`].sort());
  });

  it('every peer has the PSK and the keepalive; the device MTU is Backend.MTU − 80; no IPv6 device', () => {
    assert.deepEqual(wgShow(h1, 'preshared-keys'), [`${publicKey(h2)}\t${PSK}`, `${publicKey(h3)}\t${PSK}`].sort());
    assert.deepEqual(wgShow(h1, 'persistent-keepalive'), [`${publicKey(h2)}\t7`, `${publicKey(h3)}\t7`].sort());
    assert.match(lab.inFlanneld(h1, 'ip', ['link', 'show', 'flannel-wg']).stdout, /mtu 1320 /);
    assert.match(lab.flanneldLog(h1), /"wireguard implementation" implementation="userspace" devices=\["flannel-wg"\]/);
    assert.notEqual(lab.inFlanneld(h1, 'ip', ['link', 'show', 'flannel-wg-v6'], { allowFailure: true }).status, 0);
  });
});
