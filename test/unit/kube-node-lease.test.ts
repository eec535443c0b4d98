/** Nodes → leases: peers (v4, v6, dual, missing CIDRs, bad public-ip), our own pod CIDRs and their containment. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseNetworkConfig } from '../../src/config/network-config.js';
import { encodeLeaseAttrs, leaseKey } from '../../src/lease/lease.js';
import { kubeAnnotations } from '../../src/subnet/kube-annotations.js';
import type { KubeNode } from '../../src/subnet/kube-api.js';
import { nodeToLease, ownLeaseSubnets, ownPodCidrs } from '../../src/subnet/kube-node-lease.js';

const names = kubeAnnotations('flannel.alpha.coreos.com');
const P = 'flannel.alpha.coreos.com/';
const vxlan = {
  [`${P}kube-subnet-manager`]: 'true', [`${P}backend-type`]: 'vxlan', [`${P}public-ip`]: '198.18.0.12',
  [`${P}backend-data`]: '{"VNI":1,"VtepMAC":"0a:58:c6:12:00:0c"}',
  [`${P}public-ipv6`]: 'fd00::c', [`${P}backend-v6-data`]: '{"VNI":1,"VtepMAC":"0a:58:fd:00:00:0c"}',
};
function node(annotations: Record<string, string>, podCIDR: string, podCIDRs: string[] = []): KubeNode {
  return { name: 'n2', resourceVersion: '9', annotations, podCIDR, podCIDRs };
}
const v4 = { annotations: names, enableIPv4: true, enableIPv6: false };
const v6 = { annotations: names, enableIPv4: false, enableIPv6: true };
const dual = { annotations: names, enableIPv4: true, enableIPv6: true };

describe('node → lease', () => {
  const ok: ReadonlyArray<[string, KubeNode, typeof v4, string, string]> = [
    ['IPv4 from spec.podCIDR', node(vxlan, '10.244.2.0/24'), v4, '10.244.2.0-24',
      '{"PublicIP":"198.18.0.12","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"0a:58:c6:12:00:0c"}}'],
    ['IPv4: the first v4 entry of podCIDRs, masked', node(vxlan, 'fd00:10:244:2::/64', ['fd00:10:244:2::/64', '10.244.2.9/24']), v4, '10.244.2.0-24',
      '{"PublicIP":"198.18.0.12","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"0a:58:c6:12:00:0c"}}'],
    ['IPv6 only', node(vxlan, 'fd00:10:244:2::/64', ['fd00:10:244:2::/64']), v6, '0.0.0.0-0&fd00:10:244:2::-64',
      '{"PublicIP":"0.0.0.0","PublicIPv6":"fd00::c","BackendType":"vxlan","BackendV6Data":{"VNI":1,"VtepMAC":"0a:58:fd:00:00:0c"}}'],
    ['dual stack', node(vxlan, '10.244.2.0/24', ['10.244.2.0/24', 'fd00:10:244:2::/64']), dual, '10.244.2.0-24&fd00:10:244:2::-64',
      '{"PublicIP":"198.18.0.12","PublicIPv6":"fd00::c","BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"0a:58:c6:12:00:0c"},"BackendV6Data":{"VNI":1,"VtepMAC":"0a:58:fd:00:00:0c"}}'],
    ['host-gw "null" data and an IPv4-mapped public-ip', node({ ...vxlan, [`${P}backend-type`]: 'host-gw', [`${P}backend-data`]: 'null', [`${P}public-ip`]: '::ffff:198.18.0.12' }, '10.244.2.0/24'), v4, '10.244.2.0-24',
      '{"PublicIP":"198.18.0.12","PublicIPv6":null,"BackendType":"host-gw"}'],
  ];
  for (const [name, input, context, key, value] of ok) {
    it(name, () => {
      const result = nodeToLease(input, context);
      assert.ok('lease' in result, JSON.stringify(result));
      assert.equal(leaseKey(result.lease), key);
      assert.equal(encodeLeaseAttrs(result.lease.attrs), value);
      assert.equal(result.lease.expiresAtMs, undefined);
    });
  }
  const bad: ReadonlyArray<[string, KubeNode, typeof v4, string]> = [
    ['no public-ip', node({ ...vxlan, [`${P}public-ip`]: '' }, '10.244.2.0/24'), v4, 'invalid IP address format'],
    ['garbage public-ip', node({ ...vxlan, [`${P}public-ip`]: '198.18.0.300' }, '10.244.2.0/24'), v4, 'invalid IP address format'],
    ['an IPv6 public-ip in IPv4 mode', node({ ...vxlan, [`${P}public-ip`]: 'fd00::1' }, '10.244.2.0/24'), v4, 'invalid IPv4 address format'],
    ['an IPv4 public-ipv6', node({ ...vxlan, [`${P}public-ipv6`]: '198.18.0.12' }, 'fd00::/64'), v6, 'invalid IPv6 address format'],
    ['no pod CIDR at all', node(vxlan, ''), v4, 'invalid CIDR address: '],
    ['no IPv4 pod CIDR', node(vxlan, 'fd00::/64', ['fd00::/64']), v4, 'missing IPv4 address on n.Spec.PodCIDRs'],
    ['no IPv6 pod CIDR', node(vxlan, '10.244.2.0/24'), dual, 'missing IPv6 address on n.Spec.PodCIDRs'],
    ['three pod CIDRs', node(vxlan, '10.244.2.0/24', ['10.244.2.0/24', 'fd00::/64', '10.245.0.0/24']), v4, 'node "n2" pod cidrs should be IPv4/IPv6 only or dualstack'],
    ['a bad pod CIDR', node(vxlan, '10.244.2.0/33'), v4, 'invalid CIDR address: 10.244.2.0/33'],
    ['backend-data that is not JSON', node({ ...vxlan, [`${P}backend-data`]: '{VNI' }, '10.244.2.0/24'), v4, `annotation ${P}backend-data is not JSON: "{VNI"`],
  ];
  for (const [name, input, context, problem] of bad) {
    it(`reports ${name}`, () => assert.deepEqual(nodeToLease(input, context), { problem }));
  }
});

describe('our own pod CIDRs', () => {
  const own = (podCIDR: string, podCIDRs: string[] = []): KubeNode => ({ name: 'n1', resourceVersion: '1', annotations: {}, podCIDR, podCIDRs });
  it('needs spec.podCIDR (retryable)', () => {
    assert.throws(() => ownPodCidrs(own('', ['10.244.1.0/24'])), { code: 'POD_CIDR_NOT_ASSIGNED', message: 'node "n1" pod cidr not assigned', retryable: true });
  });
  it('takes the last of each family (upstream)', () => {
    const cidrs = ownPodCidrs(own('10.244.1.0/24', ['10.244.1.0/24', '10.244.9.0/24']));
    assert.equal(cidrs.ipv4?.toString(), '10.244.9.0/24');
    assert.equal(cidrs.ipv6, undefined);
  });
  it('refuses three', () => assert.throws(() => ownPodCidrs(own('a', ['1', '2', '3'])), { code: 'BAD_POD_CIDR', message: 'node "n1" pod cidrs should be IPv4/IPv6 only or dualstack' }));

  const config = (json: object) => parseNetworkConfig(JSON.stringify(json), { validate: false });
  const dualConfig = config({ Network: '10.244.0.0/16', IPv6Network: 'fd00:10:244::/56', EnableIPv6: true });
  it('accepts contained CIDRs', () => {
    const pair = ownLeaseSubnets(dualConfig, ownPodCidrs(own('10.244.1.0/24', ['10.244.1.0/24', 'fd00:10:244:1::/64'])), 'n1');
    assert.equal(leaseKey(pair), '10.244.1.0-24&fd00:10:244:1::-64');
  });
  it('gives an IPv6-only lease the empty IPv4 subnet', () => {
    const pair = ownLeaseSubnets(config({ EnableIPv4: false, EnableIPv6: true, IPv6Network: 'fd00:10:244::/56' }), ownPodCidrs(own('fd00:10:244:1::/64')), 'n1');
    assert.equal(leaseKey(pair), '0.0.0.0-0&fd00:10:244:1::-64');
  });
  for (const [name, json, cidrs, message] of [
    ['outside Network', { Network: '10.244.0.0/16' }, ['10.245.1.0/24'], 'subnet "10.244.0.0/16" specified in the flannel net config doesn\'t contain "10.245.1.0/24" PodCIDR of the "n1" node'],
    ['larger than Network', { Network: '10.244.0.0/16' }, ['10.244.0.0/15'], 'subnet "10.244.0.0/16" specified in the flannel net config doesn\'t contain "10.244.0.0/15" PodCIDR of the "n1" node'],
    ['no Network', {}, ['10.244.1.0/24'], 'subnet "0.0.0.0/0" specified in the flannel net config doesn\'t contain "10.244.1.0/24" PodCIDR of the "n1" node'],
    ['IPv6 outside', { Network: '10.244.0.0/16', IPv6Network: 'fd00:10:244::/56', EnableIPv6: true }, ['10.244.1.0/24', 'fd00:99::/64'], 'subnet "fd00:10:244::/56" specified in the flannel net config doesn\'t contain "fd00:99::/64" IPv6 PodCIDR of the "n1" node'],
    ['no IPv6Network', { Network: '10.244.0.0/16', EnableIPv6: true }, ['10.244.1.0/24', 'fd00:99::/64'], 'subnet "::/0" specified in the flannel net config doesn\'t contain "fd00:99::/64" IPv6 PodCIDR of the "n1" node'],
  ] as const) {
    it(`refuses a pod CIDR ${name}`, () => {
      assert.throws(() => ownLeaseSubnets(config(json), ownPodCidrs(own(cidrs[0], [...cidrs])), 'n1'), { code: 'POD_CIDR_OUTSIDE_NETWORK', message, retryable: false });
    });
  }
  it('says which family is missing (retryable)', () => {
    assert.throws(() => ownLeaseSubnets(dualConfig, ownPodCidrs(own('10.244.1.0/24')), 'n1'),
      { code: 'POD_CIDR_MISSING_FAMILY', message: 'node "n1" has no IPv6 pod CIDR but the network config enables IPv6', retryable: true });
  });
});
