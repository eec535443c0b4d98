/** Where the API is and how to authenticate (BuildConfigFromFlags semantics), from flags, env and files. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type ConnectionInputs, resolveKubeConnection } from '../../src/adapters/kube/kube-connection.js';

function files(map: Record<string, string>): ConnectionInputs['readFile'] {
  return (path) => {
    const text = map[path];
    if (text === undefined) throw Object.assign(new Error(`ENOENT: no such file or directory, open '${path}'`), { code: 'ENOENT' });
    return Buffer.from(text);
  };
}
const KUBECONFIG = `apiVersion: v1
kind: Config
current-context: prod
clusters:
- name: prod
  cluster:
    server: https://10.0.0.1:6443
    certificate-authority: pki/ca.crt
    tls-server-name: api.internal
users:
- name: flannel
  user:
    tokenFile: token
contexts:
- name: prod
  context: {cluster: prod, user: flannel}
`;
const resolve = (inputs: Partial<ConnectionInputs>) => resolveKubeConnection({ apiUrl: '', kubeconfigFile: '', env: {}, readFile: files({}), ...inputs });

describe('Kubernetes connection', () => {
  it('in-cluster: service host and port, token file (re-read later) and CA', async () => {
    const connection = await resolve({
      env: { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '6443' }, serviceAccountDir: '/sa',
      readFile: files({ '/sa/token': 'tok\n', '/sa/ca.crt': 'CA' }),
    });
    assert.equal(connection.server, 'https://[fd00::1]:6443');
    assert.deepEqual(connection.credentials, { bearerToken: 'tok', bearerTokenFile: '/sa/token' });
    assert.equal(connection.ca?.toString(), 'CA');
    assert.equal(connection.source, 'in-cluster');
  });
  it('in-cluster without the service variables says what to do', async () => {
    await assert.rejects(resolve({}), { code: 'KUBE_CONFIG', message: /^fail to create kubernetes config: unable to load in-cluster configuration, KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be defined/ });
  });
  it('in-cluster with an unreadable CA: a note, system CAs', async () => {
    const connection = await resolve({ env: { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' }, serviceAccountDir: '/sa', readFile: files({ '/sa/token': 't' }) });
    assert.equal(connection.ca, undefined);
    assert.match(connection.notes[0] ?? '', /expected to load root CA config from \/sa\/ca.crt/);
  });
  it('a kubeconfig (YAML): current context, files relative to it, tokenFile, tls-server-name', async () => {
    const connection = await resolve({ kubeconfigFile: '/etc/k/kubeconfig', readFile: files({ '/etc/k/kubeconfig': KUBECONFIG, '/etc/k/pki/ca.crt': 'CA', '/etc/k/token': 'abc' }) });
    assert.deepEqual([connection.server, connection.ca?.toString(), connection.tlsServerName, connection.credentials],
      ['https://10.0.0.1:6443', 'CA', 'api.internal', { bearerToken: 'abc', bearerTokenFile: '/etc/k/token' }]);
  });
  it('--kube-api-url replaces the kubeconfig\'s server, keeps its CA and user, clears tls-server-name', async () => {
    const connection = await resolve({ apiUrl: 'https://192.0.2.1:6443/', kubeconfigFile: '/etc/k/kubeconfig', readFile: files({ '/etc/k/kubeconfig': KUBECONFIG, '/etc/k/pki/ca.crt': 'CA', '/etc/k/token': 'abc' }) });
    assert.deepEqual([connection.server, connection.ca?.toString(), connection.tlsServerName, connection.credentials.bearerToken], ['https://192.0.2.1:6443', 'CA', undefined, 'abc']);
  });
  it('only --kube-api-url: that server, no credentials', async () => {
    const connection = await resolve({ apiUrl: 'https://192.0.2.1:6443', env: { KUBERNETES_SERVICE_HOST: 'x', KUBERNETES_SERVICE_PORT: '1' } });
    assert.deepEqual([connection.server, connection.credentials, connection.source], ['https://192.0.2.1:6443', {}, 'api-url']);
  });
  it('credentials never travel over plain http (as client-go)', async () => {
    const config = JSON.stringify({ 'current-context': 'c', clusters: [{ name: 'c', cluster: { server: 'http://127.0.0.1:8080' } }], users: [{ name: 'u', user: { token: 't' } }], contexts: [{ name: 'c', context: { cluster: 'c', user: 'u' } }] });
    const connection = await resolve({ kubeconfigFile: '/k', readFile: files({ '/k': config }) });
    assert.deepEqual(connection.credentials, {});
    assert.deepEqual(connection.notes, ['server http://127.0.0.1:8080 is plain http: credentials are not sent']);
  });
  for (const [name, text, message] of [
    ['a missing context', 'current-context: nope\n', /context was not found for specified context: nope/],
    ['no current-context', 'clusters: []\n', /no configuration has been provided/],
    ['an exec plugin', 'current-context: c\nclusters: [{name: c, cluster: {server: "https://x"}}]\nusers: [{name: u, user: {exec: {command: aws}}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\n', /uses an exec plugin, which flannel-ts does not support/],
    ['CA with insecure-skip-tls-verify', 'current-context: c\nclusters: [{name: c, cluster: {server: "https://x", insecure-skip-tls-verify: true, certificate-authority-data: "Q0E="}}]\ncontexts: [{name: c, context: {cluster: c}}]\n', /specifying a root certificates file with the insecure flag is not allowed/],
    ['a certificate without its key', 'current-context: c\nclusters: [{name: c, cluster: {server: "https://x"}}]\nusers: [{name: u, user: {client-certificate-data: "Q0E="}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\n', /a client certificate needs its key/],
    ['not YAML', 'a: [b\n', /\/k: not YAML/],
    ['a bad server URL', 'current-context: c\nclusters: [{name: c, cluster: {server: "ftp://x"}}]\ncontexts: [{name: c, context: {cluster: c}}]\n', /invalid server URL "ftp:\/\/x": want http:\/\/ or https:\/\//],
  ] as const) {
    it(`refuses ${name}`, async () => {
      await assert.rejects(resolve({ kubeconfigFile: '/k', readFile: files({ '/k': text }) }), { code: 'KUBE_CONFIG', message });
    });
  }
  it('says which kubeconfig it cannot read', async () => {
    await assert.rejects(resolve({ kubeconfigFile: '/missing' }), { message: /^fail to create kubernetes config: cannot read kubeconfig \/missing: ENOENT/ });
  });
});
