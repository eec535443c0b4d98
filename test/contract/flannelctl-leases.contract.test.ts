/**
 * `flannelctl leases` against a real etcd that wants what a hardened flannel setup has: TLS with client
 * certificates and a user whose role covers the prefix only. The flags and FLANNELD_* variables are
 * flanneld's; the listing shows each lease's host and expiry, and the malformed entries; a mistake (http:// to
 * the TLS port, a wrong password) is one line naming it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { LeaseListingDocument } from '../../src/ops/lease-listing.js';
import { assertInContractNetns } from '../support/contract-netns.js';
import { type EtcdServer, startEtcd } from '../support/etcd-server.js';
import { type TestPki, makeTestPki } from '../support/test-pki.js';

assertInContractNetns();

const FLANNELCTL = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', 'src', 'cmd', 'flannelctl.js');
const SUBNETS = '/coreos.com/network/subnets/';

function flannelctl(args: readonly string[], env: Record<string, string> = {}) {
  const result = spawnSync(process.execPath, [FLANNELCTL, 'leases', ...args], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '', ...env }, timeout: 20_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('flannelctl leases on a TLS etcd with a role-limited user', () => {
  let pki: TestPki;
  let etcd: EtcdServer;
  let tlsFlags: string[];
  before(async () => {
    pki = makeTestPki();
    const clientFlags = ['--cacert', pki.ca, '--cert', pki.clientCert, '--key', pki.clientKey];
    etcd = await startEtcd({ clientPort: 23890, tls: { cert: pki.serverCert, key: pki.serverKey, clientCa: pki.ca }, etcdctlFlags: clientFlags });
    const leaseId = /lease ([0-9a-f]+) granted/.exec(etcd.etcdctl(['lease', 'grant', '3600']))?.[1] ?? assert.fail('no lease granted');
    etcd.etcdctl(['put', '--lease', leaseId, `${SUBNETS}10.244.12.0-24`, '{"PublicIP":"198.18.0.12","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"02:aa:bb:cc:dd:12"}}']);
    etcd.etcdctl(['put', `${SUBNETS}10.244.3.0-24`, '{"PublicIP":"198.18.0.13","PublicIPv6":null,"BackendType":"host-gw"}']);
    etcd.etcdctl(['put', `${SUBNETS}10.244.4.0-24`, '{"PublicIP":"not-an-ip"}']);
    etcd.etcdctl(['put', `${SUBNETS}garbage`, '{}']);
    for (const args of [['user', 'add', 'root:root-pw'], ['role', 'add', 'flannel'], ['role', 'grant-permission', 'flannel', '--prefix=true', 'readwrite', '/coreos.com/network/'],
      ['user', 'add', 'flannel:flannel-pw'], ['user', 'grant-role', 'flannel', 'flannel'], ['auth', 'enable']]) etcd.etcdctl(args);
    tlsFlags = ['--etcd-cafile', pki.ca, '--etcd-certfile', pki.clientCert, '--etcd-keyfile', pki.clientKey];
  });
  after(async () => {
    await etcd?.stop();
    rmSync(pki.dir, { recursive: true, force: true });
  });

  it('lists each lease with its host and expiry, and the malformed entries (flags)', () => {
    const result = flannelctl(['--etcd-endpoints', etcd.url, ...tlsFlags, '--etcd-username', 'flannel', '--etcd-password', 'flannel-pw']);
    assert.equal(result.status, 0, result.stderr);
    const lines = result.stdout.trimEnd().split('\n');
    assert.match(lines[0] ?? '', /^SUBNET +PUBLIC IP +BACKEND +EXPIRES$/);
    assert.match(lines[1] ?? '', /^10\.244\.3\.0\/24 +198\.18\.0\.13 +host-gw +never \(no etcd lease\)$/, 'subnets in numeric order');
    assert.match(lines[2] ?? '', /^10\.244\.12\.0\/24 +198\.18\.0\.12 +vxlan +in (59m|60m) \(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\)$/);
    assert.match(result.stdout, /^MALFORMED 10\.244\.4\.0-24: .*PublicIP.*not-an-ip/m);
    assert.match(result.stdout, /^MALFORMED garbage: key is not a subnet key/m);
    assert.equal(result.stderr, '');
  });

  it('takes the same settings from FLANNELD_* variables, in --json', () => {
    const result = flannelctl(['--json'], {
      FLANNELD_ETCD_ENDPOINTS: etcd.url, FLANNELD_ETCD_CAFILE: pki.ca, FLANNELD_ETCD_CERTFILE: pki.clientCert, FLANNELD_ETCD_KEYFILE: pki.clientKey,
      FLANNELD_ETCD_USERNAME: 'flannel', FLANNELD_ETCD_PASSWORD: 'flannel-pw',
    });
    assert.equal(result.status, 0, result.stderr);
    const document = JSON.parse(result.stdout) as LeaseListingDocument;
    const vxlan = document.leases.find((lease) => lease.subnet === '10.244.12.0/24');
    assert.equal(vxlan?.publicIP, '198.18.0.12');
    assert.equal(vxlan?.backendType, 'vxlan');
    assert.deepEqual(vxlan?.backendData, { VNI: 1, VtepMAC: '02:aa:bb:cc:dd:12' });
    assert.equal(vxlan?.expiry, 'at');
    assert.ok((vxlan?.expiresInSeconds ?? 0) > 3500 && (vxlan?.expiresInSeconds ?? 0) <= 3600, String(vxlan?.expiresInSeconds));
    assert.equal(document.leases.find((lease) => lease.subnet === '10.244.3.0/24')?.expiry, 'never');
    assert.deepEqual(document.malformed.map((entry) => entry.key), ['10.244.4.0-24', 'garbage']);
  });

  it("accepts flanneld's whole command line (Go spelling, flags it does not need)", () => {
    const options = [`-etcd-cafile=${pki.ca}`, `-etcd-certfile=${pki.clientCert}`, `-etcd-keyfile=${pki.clientKey}`, '-etcd-username=flannel', '--iface=eth0', '--ip-masq', '-healthz-port=8471'];
    const result = flannelctl([`--etcd-endpoints=${etcd.url}`, '--etcd-prefix=/coreos.com/network', ...options], { FLANNELD_ETCD_PASSWORD: 'flannel-pw' });
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /10\.244\.12\.0\/24/);
  });

  const mistakes: Array<[string, () => string[], RegExp]> = [
    ['http:// to the TLS port', () => ['--etcd-endpoints', etcd.url.replace('https:', 'http:'), ...tlsFlags], /^flannelctl leases: etcd .*if etcd serves TLS on this port, use https:\/\/.*\n$/],
    ['a wrong password', () => ['--etcd-endpoints', etcd.url, ...tlsFlags, '--etcd-username', 'flannel', '--etcd-password', 'nope'], /^flannelctl leases: etcd .*authentication failed.*\n$/i],
    ['no client certificate', () => ['--etcd-endpoints', etcd.url, '--etcd-cafile', pki.ca], /^flannelctl leases: etcd .*etcd rejected our client certificate.*\n$/],
    ['a missing key file', () => ['--etcd-endpoints', etcd.url, '--etcd-certfile', pki.clientCert, '--etcd-keyfile', '/nonexistent/key.pem'], /^flannelctl leases: --etcd-keyfile: cannot read \/nonexistent\/key\.pem: .*\n$/],
  ];
  for (const [name, args, pattern] of mistakes) {
    it(`${name}: exit 1, one line saying what is wrong`, () => {
      const result = flannelctl(args());
      assert.equal(result.status, 1, result.stdout);
      assert.match(result.stderr.replace(/^flannelctl leases: warning: .*\n/gm, ''), pattern);
      assert.equal(result.stdout, '');
    });
  }
});
