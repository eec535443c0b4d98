/** Kubernetes-mode environment and flags, and what our Node remembers (stored public IPs and VTEP MACs). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseFlags } from '../../src/config/daemon-options.js';
import { kubeEnvOptions, kubeOptions } from '../../src/config/kube-options.js';
import { kubeAnnotations } from '../../src/subnet/kube-annotations.js';
import { storedPublicIPs, storedVtepMacs } from '../../src/subnet/kube-stored-node.js';

describe('Kubernetes environment', () => {
  for (const [env, depth] of [
    [{}, 5000], [{ EVENT_QUEUE_DEPTH: '' }, 5000], [{ EVENT_QUEUE_DEPTH: '10' }, 10], [{ EVENT_QUEUE_DEPTH: '+7' }, 7],
    [{ EVENT_QUEUE_DEPTH: '0' }, 5000], [{ EVENT_QUEUE_DEPTH: '-3' }, 5000],
  ] as const) {
    it(`EVENT_QUEUE_DEPTH ${JSON.stringify(env)} → ${depth}`, () => assert.equal(kubeEnvOptions(env).eventQueueDepth, depth));
  }
  for (const [text, reason] of [['ten', 'invalid syntax'], ['1.5', 'invalid syntax'], [' 5', 'invalid syntax'], ['99999999999999999999', 'value out of range']] as const) {
    it(`rejects EVENT_QUEUE_DEPTH=${text} in upstream's words`, () => {
      assert.throws(() => kubeEnvOptions({ EVENT_QUEUE_DEPTH: text }), { code: 'BAD_ENV', message: `env EVENT_QUEUE_DEPTH=${text} format error: strconv.Atoi: parsing ${JSON.stringify(text)}: ${reason}` });
    });
  }
  it('reads the node and pod names, and CONT_WHEN_CACHE_NOT_READY only when exactly "true"', () => {
    assert.deepEqual(kubeEnvOptions({ NODE_NAME: 'n1', POD_NAME: 'p', POD_NAMESPACE: 'kube-flannel', CONT_WHEN_CACHE_NOT_READY: 'true' }),
      { nodeName: 'n1', podName: 'p', podNamespace: 'kube-flannel', eventQueueDepth: 5000, continueWhenCacheNotReady: true });
    assert.equal(kubeEnvOptions({ CONT_WHEN_CACHE_NOT_READY: 'True' }).continueWhenCacheNotReady, false);
  });
  it('takes the kube flags (and their FLANNELD_* variables) from the parsed flags', () => {
    const parsed = parseFlags(['--kube-subnet-mgr', '--kube-api-url=https://10.0.0.1:6443', '--set-node-network-unavailable=false'],
      { FLANNELD_KUBECONFIG_FILE: '/etc/kubeconfig' });
    const options = kubeOptions(parsed.values, { NODE_NAME: 'n1' });
    assert.equal(options.apiUrl, 'https://10.0.0.1:6443');
    assert.equal(options.kubeconfigFile, '/etc/kubeconfig');
    assert.equal(options.annotationPrefix, 'flannel.alpha.coreos.com');
    assert.equal(options.netConfigPath, '/etc/kube-flannel/net-conf.json');
    assert.equal(options.setNodeNetworkUnavailable, false);
    assert.equal(options.nodeName, 'n1');
  });
});

describe('what our node remembers', () => {
  const names = kubeAnnotations('example.com/flannel');
  const P = 'example.com/flannel-';
  const node = (annotations: Record<string, string>) => ({ name: 'n1', resourceVersion: '1', annotations, podCIDR: '', podCIDRs: [] });
  it('stored public IPs are the node-public-ip annotations ("" when unset)', () => {
    assert.deepEqual(storedPublicIPs(node({ [`${P}node-public-ip`]: '203.0.113.7' }), names), { publicIP: '203.0.113.7', publicIPv6: '' });
  });
  it('stored VTEP MACs come from backend-data in any field order (upstream needs VNI first), with the normalised name', () => {
    const macs = storedVtepMacs(node({
      [`${P}backend-data`]: '{"VNI":1,"VtepMAC":"12:c6:65:89:b4:e3"}',
      [`${P}backend-v6-data`]: '{"VtepMAC":"12:C6:65:89:B4:E4","VNI":1}',
    }), names);
    assert.equal(macs.v4?.toString(), '12:c6:65:89:b4:e3');
    assert.equal(macs.v6?.toString(), '12:c6:65:89:b4:e4');
    assert.deepEqual(macs.problems, []);
  });
  it('reports unusable backend data and uses none of it', () => {
    const macs = storedVtepMacs(node({ [`${P}backend-data`]: '{"VNI":1,"VtepMAC":"nope"}', [`${P}backend-v6-data`]: '{garbage' }), names);
    assert.equal(macs.v4, undefined);
    assert.equal(macs.v6, undefined);
    assert.deepEqual(macs.problems, [
      `${P}backend-data: VtepMAC is not a MAC address: "{\\"VNI\\":1,\\"VtepMAC\\":\\"nope\\"}"`,
      `${P}backend-v6-data: not JSON: "{garbage"`,
    ]);
  });
  it('host-gw "null" data is simply nothing stored', () => {
    assert.deepEqual(storedVtepMacs(node({ [`${P}backend-data`]: 'null' }), names), { problems: [] });
  });
});
