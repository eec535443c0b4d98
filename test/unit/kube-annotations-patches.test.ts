/**
 * Annotation prefix normalisation (upstream's rules and errors) and the annotation / condition patch bodies.
 * The expected patch texts were produced by k8s.io/apimachinery's strategicpatch.CreateTwoWayMergePatch
 * (vendored in upstream v0.20.2) from the old node and the new annotations upstream's AcquireLease sets.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LeaseAttrs } from '../../src/lease/lease.js';
import { UNSET_IPV4 } from '../../src/lease/lease.js';
import { IpAddress } from '../../src/net/ip.js';
import { kubeAnnotations } from '../../src/subnet/kube-annotations.js';
import type { KubeNode } from '../../src/subnet/kube-api.js';
import { annotationPatch, networkUnavailablePatch } from '../../src/subnet/kube-patches.js';
import { goJson } from '../../src/support/go-json.js';

describe('annotation prefix normalisation', () => {
  for (const [input, prefix] of [
    ['flannel.alpha.coreos.com', 'flannel.alpha.coreos.com/'],
    ['flannel.alpha.coreos.com/', 'flannel.alpha.coreos.com/'],
    ['example.com/flannel', 'example.com/flannel-'],
    ['example.com/flannel-', 'example.com/flannel-'],
    ['my_org.example-1.io/x_y', 'my_org.example-1.io/x_y-'],
    // Upstream's pattern is not anchored at the start: an upper-case host still matches its tail.
    ['Flannel.Example.com', 'Flannel.Example.com/'],
  ] as const) {
    it(`${input} → ${prefix}`, () => {
      const names = kubeAnnotations(input);
      assert.equal(names.prefix, prefix);
      assert.equal(names.backendData, `${prefix}backend-data`);
      assert.equal(names.subnetKubeManaged, `${prefix}kube-subnet-manager`);
      assert.equal(names.backendPublicIPv6Overwrite, `${prefix}public-ipv6-overwrite`);
    });
  }
  for (const [input, message] of [
    ['a.com/b/c', 'subnet/kube: prefix can contain at most single slash'],
    ['localhost', 'subnet/kube: prefix must be in a format: fqdn/[0-9a-z-_]*'],
    ['example.com/Flannel', 'subnet/kube: prefix must be in a format: fqdn/[0-9a-z-_]*'],
    ['', 'subnet/kube: prefix must be in a format: fqdn/[0-9a-z-_]*'],
    ['example.com/a.b', 'subnet/kube: prefix must be in a format: fqdn/[0-9a-z-_]*'],
  ] as const) {
    it(`rejects ${JSON.stringify(input)}`, () => assert.throws(() => kubeAnnotations(input), { code: 'BAD_ANNOTATION_PREFIX', message }));
  }
});

const P = 'flannel.alpha.coreos.com/';
const names = kubeAnnotations('flannel.alpha.coreos.com');
const base = { 'node.alpha.kubernetes.io/ttl': '0', 'volumes.kubernetes.io/controller-managed-attach-detach': 'true' };
const node = (annotations: Record<string, string>): KubeNode => ({ name: 'n1', resourceVersion: '7', annotations, podCIDR: '10.244.1.0/24', podCIDRs: ['10.244.1.0/24'] });
const ip = IpAddress.parse;
const vxlanData = { VNI: 1, VtepMAC: '0a:58:c6:12:00:0b' };
const vxlanV6Data = { VNI: 1, VtepMAC: '0a:58:fd:00:00:0b' };
const vxlan: LeaseAttrs = { publicIP: ip('198.18.0.11'), backendType: 'vxlan', backendData: vxlanData };

describe('annotation patch (byte for byte as upstream)', () => {
  const cases: ReadonlyArray<[string, Record<string, string>, LeaseAttrs, string | undefined]> = [
    ['vxlan on a fresh node', base, vxlan,
      '{"metadata":{"annotations":{"flannel.alpha.coreos.com/backend-data":"{\\"VNI\\":1,\\"VtepMAC\\":\\"0a:58:c6:12:00:0b\\"}","flannel.alpha.coreos.com/backend-type":"vxlan","flannel.alpha.coreos.com/kube-subnet-manager":"true","flannel.alpha.coreos.com/public-ip":"198.18.0.11"}}}'],
    ['public-ip-overwrite is published instead of our address', { ...base, [`${P}public-ip-overwrite`]: '203.0.113.5' }, vxlan,
      '{"metadata":{"annotations":{"flannel.alpha.coreos.com/backend-data":"{\\"VNI\\":1,\\"VtepMAC\\":\\"0a:58:c6:12:00:0b\\"}","flannel.alpha.coreos.com/backend-type":"vxlan","flannel.alpha.coreos.com/kube-subnet-manager":"true","flannel.alpha.coreos.com/public-ip":"203.0.113.5"}}}'],
    ['host-gw with a changed address: only that key', { ...base, [`${P}backend-data`]: 'null', [`${P}backend-type`]: 'host-gw', [`${P}kube-subnet-manager`]: 'true', [`${P}public-ip`]: '198.18.0.99' },
      { publicIP: ip('198.18.0.11'), backendType: 'host-gw' },
      '{"metadata":{"annotations":{"flannel.alpha.coreos.com/public-ip":"198.18.0.11"}}}'],
    ['dual-stack vxlan', base, { ...vxlan, publicIPv6: ip('fd00::b'), backendV6Data: vxlanV6Data },
      '{"metadata":{"annotations":{"flannel.alpha.coreos.com/backend-data":"{\\"VNI\\":1,\\"VtepMAC\\":\\"0a:58:c6:12:00:0b\\"}","flannel.alpha.coreos.com/backend-type":"vxlan","flannel.alpha.coreos.com/backend-v6-data":"{\\"VNI\\":1,\\"VtepMAC\\":\\"0a:58:fd:00:00:0b\\"}","flannel.alpha.coreos.com/kube-subnet-manager":"true","flannel.alpha.coreos.com/public-ip":"198.18.0.11","flannel.alpha.coreos.com/public-ipv6":"fd00::b"}}}'],
    ['IPv6-only vxlan: no IPv4 block', base, { publicIP: UNSET_IPV4, publicIPv6: ip('fd00::b'), backendType: 'vxlan', backendV6Data: vxlanV6Data },
      '{"metadata":{"annotations":{"flannel.alpha.coreos.com/backend-type":"vxlan","flannel.alpha.coreos.com/backend-v6-data":"{\\"VNI\\":1,\\"VtepMAC\\":\\"0a:58:fd:00:00:0b\\"}","flannel.alpha.coreos.com/kube-subnet-manager":"true","flannel.alpha.coreos.com/public-ipv6":"fd00::b"}}}'],
    ['dual-stack host-gw: both data annotations "null"', base, { publicIP: ip('198.18.0.11'), publicIPv6: ip('fd00::b'), backendType: 'host-gw' },
      '{"metadata":{"annotations":{"flannel.alpha.coreos.com/backend-data":"null","flannel.alpha.coreos.com/backend-type":"host-gw","flannel.alpha.coreos.com/backend-v6-data":"null","flannel.alpha.coreos.com/kube-subnet-manager":"true","flannel.alpha.coreos.com/public-ip":"198.18.0.11","flannel.alpha.coreos.com/public-ipv6":"fd00::b"}}}'],
    ['Go escapes <, > and & twice over', base, { publicIP: ip('198.18.0.11'), backendType: 'extension', backendData: { Cmd: 'a < b && c' } },
      '{"metadata":{"annotations":{"flannel.alpha.coreos.com/backend-data":"{\\"Cmd\\":\\"a \\\\u003c b \\\\u0026\\\\u0026 c\\"}","flannel.alpha.coreos.com/backend-type":"extension","flannel.alpha.coreos.com/kube-subnet-manager":"true","flannel.alpha.coreos.com/public-ip":"198.18.0.11"}}}'],
    ['alloc (empty backend type)', base, { publicIP: ip('198.18.0.11'), backendType: '' },
      '{"metadata":{"annotations":{"flannel.alpha.coreos.com/backend-data":"null","flannel.alpha.coreos.com/backend-type":"","flannel.alpha.coreos.com/kube-subnet-manager":"true","flannel.alpha.coreos.com/public-ip":"198.18.0.11"}}}'],
    ['nothing to do on a node already annotated', { ...base, [`${P}backend-data`]: goJson(vxlanData), [`${P}backend-type`]: 'vxlan', [`${P}kube-subnet-manager`]: 'true', [`${P}public-ip`]: '198.18.0.11' }, vxlan, undefined],
    ['upstream patches {} when the overwrite is already published', { ...base, [`${P}backend-data`]: goJson(vxlanData), [`${P}backend-type`]: 'vxlan', [`${P}kube-subnet-manager`]: 'true', [`${P}public-ip`]: '203.0.113.5', [`${P}public-ip-overwrite`]: '203.0.113.5' }, vxlan, '{}'],
  ];
  for (const [name, annotations, attrs, expected] of cases) {
    it(name, () => assert.equal(annotationPatch(node(annotations), attrs, names), expected));
  }
});

describe('NetworkUnavailable condition patch', () => {
  it('matches metav1.Time marshalling (UTC, whole seconds)', () => {
    assert.equal(networkUnavailablePatch(1709618889987),
      '{"status":{"conditions":[{"type":"NetworkUnavailable","status":"False","lastHeartbeatTime":"2024-03-05T06:08:09Z","lastTransitionTime":"2024-03-05T06:08:09Z","reason":"FlannelIsUp","message":"Flannel is running on this node"}]}}');
  });
});
