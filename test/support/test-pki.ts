/**
 * A throw-away PKI for TLS tests (openssl): a CA, etcd's server certificate for 127.0.0.1, a client
 * certificate signed by that CA, and a second CA with a client certificate of its own (trusted by no one).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../src/lab/shell.js';

export interface TestPki {
  readonly dir: string;
  readonly ca: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly clientCert: string;
  readonly clientKey: string;
  /** A CA that signed nothing etcd trusts, and a client certificate it signed. */
  readonly otherCa: string;
  readonly otherClientCert: string;
}

export function makeTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'flannel-ts-pki-'));
  const path = (name: string) => join(dir, name);
  const newKey = (name: string) => ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', path(`${name}.key`)];
  const sign = (name: string, ca: string, extensions: string, out = `${name}.crt`) => {
    writeFileSync(path(`${name}.ext`), extensions);
    run('openssl', ['x509', '-req', '-in', path(`${name}.csr`), '-CA', path(`${ca}.crt`), '-CAkey', path(`${ca}.key`), '-CAcreateserial',
      '-out', path(out), '-days', '2', '-extfile', path(`${name}.ext`)]);
  };
  for (const ca of ['ca', 'other-ca']) run('openssl', ['req', '-x509', ...newKey(ca), '-out', path(`${ca}.crt`), '-days', '2', '-subj', `/CN=${ca}`]);
  run('openssl', ['req', ...newKey('server'), '-out', path('server.csr'), '-subj', '/CN=etcd']);
  sign('server', 'ca', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  run('openssl', ['req', ...newKey('client'), '-out', path('client.csr'), '-subj', '/CN=flannel']);
  sign('client', 'ca', 'extendedKeyUsage=clientAuth\n');
  sign('client', 'other-ca', 'extendedKeyUsage=clientAuth\n', 'other-client.crt');
  return {
    dir, ca: path('ca.crt'), serverCert: path('server.crt'), serverKey: path('server.key'), clientCert: path('client.crt'), clientKey: path('client.key'),
    otherCa: path('other-ca.crt'), otherClientCert: path('other-client.crt'),
  };
}
