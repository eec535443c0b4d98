import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type EtcdTlsFlags, etcdTlsFromFlags } from '../../src/adapters/etcd/etcd-tls-flags.js';

const files: Record<string, string> = { '/ca.pem': 'CA', '/cert.pem': 'CERT', '/key.pem': 'KEY' };
const readFile = (path: string): Buffer => {
  const text = files[path];
  if (text === undefined) throw new Error(`ENOENT: no such file or directory, open '${path}'`);
  return Buffer.from(text);
};
const flags = (overrides: Partial<EtcdTlsFlags>): EtcdTlsFlags => ({ endpoints: ['https://etcd:2379'], cafile: '', certfile: '', keyfile: '', ...overrides });

describe('etcd TLS flags', () => {
  const accepted: Array<[string, Partial<EtcdTlsFlags>, Record<string, string> | undefined, string[]]> = [
    ['nothing: https with the system CAs, no warning', {}, undefined, []],
    ['a CA alone: TLS with that CA, no client certificate', { cafile: '/ca.pem' }, { ca: 'CA' }, []],
    ['certificate and key', { certfile: '/cert.pem', keyfile: '/key.pem' }, { cert: 'CERT', key: 'KEY' }, []],
    ['all three', { cafile: '/ca.pem', certfile: '/cert.pem', keyfile: '/key.pem' }, { ca: 'CA', cert: 'CERT', key: 'KEY' }, []],
    ['an http endpoint is plain and says so', { endpoints: ['https://a:2379', 'http://b:2379'] }, undefined, ['connecting to etcd with http. This is insecure']],
    ['TLS files with only http endpoints: said to be unused', { endpoints: ['http://b:2379'], cafile: '/ca.pem' }, { ca: 'CA' },
      ['connecting to etcd with http. This is insecure', 'etcd TLS files given but every endpoint is http://: they are not used (use https:// endpoints)']],
  ];
  for (const [name, given, tls, warnings] of accepted) {
    it(name, () => {
      const settings = etcdTlsFromFlags(flags(given), readFile);
      const asText = settings.tls && Object.fromEntries(Object.entries(settings.tls).map(([key, value]) => [key, String(value)]));
      assert.deepEqual(asText, tls);
      assert.deepEqual(settings.warnings.map((warning) => warning.message), warnings);
    });
  }

  const rejected: Array<[string, Partial<EtcdTlsFlags>, RegExp]> = [
    ['a certificate without a key', { certfile: '/cert.pem' }, /--etcd-certfile and --etcd-keyfile must be given together \(got --etcd-certfile=\/cert.pem without --etcd-keyfile\)/],
    ['a key without a certificate', { keyfile: '/key.pem', cafile: '/ca.pem' }, /got --etcd-keyfile=\/key.pem without --etcd-certfile/],
    ['an unreadable CA', { cafile: '/missing.pem' }, /--etcd-cafile: cannot read \/missing.pem: ENOENT/],
    ['an unreadable key', { certfile: '/cert.pem', keyfile: '/nokey.pem' }, /--etcd-keyfile: cannot read \/nokey.pem/],
  ];
  for (const [name, given, message] of rejected) {
    it(`rejects ${name}, naming the flag`, () => {
      assert.throws(() => etcdTlsFromFlags(flags(given), readFile), (error: unknown) => (error as { code?: string }).code === 'BAD_FLAG' && message.test((error as Error).message));
    });
  }
});
