/**
 * TLS to etcd: a CA alone is enough for an etcd without client-certificate auth (in the client and in
 * flanneld's flags), and every TLS mistake is reported as what it is — our client certificate rejected, etcd's
 * certificate not trusted, http:// to a TLS port, https:// to a plain one — as a non-retryable ETCD_TLS.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EtcdRegistry } from '../../src/adapters/etcd/etcd-registry.js';
import type { EtcdTlsOptions } from '../../src/adapters/etcd/etcd-connections.js';
import { FLANNELD_JS } from '../../src/lab/lab.js';
import { FlannelError } from '../../src/support/errors.js';
import { assertInContractNetns } from '../support/contract-netns.js';
import { type EtcdServer, startEtcd } from '../support/etcd-server.js';
import { type TestPki, makeTestPki } from '../support/test-pki.js';

assertInContractNetns();

/** getNetworkConfig through a registry with these settings: undefined (no config: it worked) or the error. */
async function attempt(endpoint: string, tls?: EtcdTlsOptions): Promise<FlannelError | undefined> {
  const registry = new EtcdRegistry({ endpoints: [endpoint], prefix: '/coreos.com/network', ...(tls ? { tls } : {}), connectTimeoutMs: 2000 });
  try {
    assert.equal(await registry.getNetworkConfig(), undefined);
    return undefined;
  } catch (error) {
    assert.ok(error instanceof FlannelError, String(error));
    return error;
  } finally {
    await registry.close();
  }
}

/** Runs flanneld with `args` until it exits or its output matches `until` (then SIGTERM); returns its output. */
function flanneld(args: readonly string[], until: RegExp): Promise<{ status: number | null; output: string }> {
  return new Promise((resolve) => {
    // No status socket: this flanneld shares the machine's /run with whatever else runs here.
    const child = spawn(process.execPath, [FLANNELD_JS, ...args, '--status-socket='], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const timer = setTimeout(() => child.kill('SIGTERM'), 15_000);
    const take = (chunk: Buffer) => {
      output += chunk.toString();
      if (until.test(output)) child.kill('SIGTERM');
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.once('exit', (status) => {
      clearTimeout(timer);
      resolve({ status, output });
    });
  });
}

describe('etcd over TLS', () => {
  let pki: TestPki;
  let mutual: EtcdServer;
  let serverOnly: EtcdServer;
  let plain: EtcdServer;
  const file = (path: string) => readFileSync(path);
  before(async () => {
    pki = makeTestPki();
    const clientFlags = ['--cacert', pki.ca, '--cert', pki.clientCert, '--key', pki.clientKey];
    [mutual, serverOnly, plain] = await Promise.all([
      startEtcd({ clientPort: 23870, tls: { cert: pki.serverCert, key: pki.serverKey, clientCa: pki.ca }, etcdctlFlags: clientFlags }),
      startEtcd({ clientPort: 23874, tls: { cert: pki.serverCert, key: pki.serverKey }, etcdctlFlags: ['--cacert', pki.ca] }),
      startEtcd(23878),
    ]);
  });
  after(async () => {
    await Promise.all([mutual, serverOnly, plain].map((server) => server?.stop()));
    rmSync(pki.dir, { recursive: true, force: true });
  });

  it('works with a CA alone (no client certificate auth) and with CA + client certificate', async () => {
    assert.equal(await attempt(serverOnly.url, { ca: file(pki.ca) }), undefined);
    assert.equal(await attempt(mutual.url, { ca: file(pki.ca), cert: file(pki.clientCert), key: file(pki.clientKey) }), undefined);
  });

  const failures: Array<[string, () => [string, EtcdTlsOptions | undefined], RegExp]> = [
    ['no client certificate for an etcd that requires one', () => [mutual.url, { ca: file(pki.ca) }], /etcd rejected our client certificate/],
    ['a client certificate from a CA etcd does not trust', () => [mutual.url, { ca: file(pki.ca), cert: file(pki.otherClientCert), key: file(pki.clientKey) }], /etcd rejected our client certificate/],
    ["etcd's certificate from a CA we do not trust", () => [serverOnly.url, { ca: file(pki.otherCa) }], /etcd's server certificate is not trusted .*--etcd-cafile/],
    ['http:// to a TLS port', () => [serverOnly.url.replace('https:', 'http:'), undefined], /if etcd serves TLS on this port, use https:\/\//],
    ['https:// to a plain port', () => [plain.url.replace('http:', 'https:'), { ca: file(pki.ca) }], /if it serves plain HTTP on this port, use http:\/\//],
  ];
  for (const [name, settings, message] of failures) {
    it(`says what failed: ${name}`, async () => {
      const [endpoint, tls] = settings();
      const error = await attempt(endpoint, tls);
      assert.equal(error?.code, 'ETCD_TLS', error?.message);
      assert.equal(error?.retryable, false);
      assert.match(error?.message ?? '', message);
    });
  }

  it('flanneld: --etcd-cafile alone connects over TLS (and does not claim http)', async () => {
    const { output } = await flanneld(['--etcd-endpoints', serverOnly.url, '--etcd-cafile', pki.ca, '--subnet-file', join(pki.dir, 'subnet.env')], /config not found|exit|fatal/i);
    assert.match(output, /flannel config not found in etcd store/, output);
    assert.doesNotMatch(output, /connecting to etcd with http/);
  });

  it('flanneld: a certificate without a key is an error naming both flags', async () => {
    const { status, output } = await flanneld(['--etcd-endpoints', mutual.url, '--etcd-certfile', pki.clientCert, '--subnet-file', join(pki.dir, 'subnet.env')], /$^/);
    assert.equal(status, 1, output);
    assert.match(output, /--etcd-certfile and --etcd-keyfile must be given together/);
  });

  it('flanneld: an untrusted etcd certificate stops it at once with the reason', async () => {
    const { status, output } = await flanneld(['--etcd-endpoints', mutual.url, '--etcd-cafile', pki.otherCa, '--etcd-certfile', pki.clientCert,
      '--etcd-keyfile', pki.clientKey, '--subnet-file', join(pki.dir, 'subnet.env')], /$^/);
    assert.equal(status, 1, output);
    assert.match(output, /server certificate is not trusted/);
    assert.match(output, /ETCD_TLS/);
  });
});
