/** IPv6 end to end: an IPv6-only vxlan network, and host-gw dual stack. Labs removed even on failure. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import type { LabHost } from '../../src/lab/lab-layout.js';
import { labForSuite } from '../support/lab-suite.js';
import { inNetns } from '../../src/lab/shell.js';

describe('IPv6-only vxlan (EnableIPv4: false)', () => {
  const lab = labForSuite({ prefix: 'ft6v', hosts: 2, backend: 'vxlan', ipv6Only: true });
  const [h1] = lab.layout.hosts as [LabHost, LabHost];

  it('pods reach each other over IPv6 through flannel-v6.1 only', () => {
    assert.deepEqual(lab.pingMatrix(6), []);
    assert.equal(inNetns(h1.netns, 'ip', ['link', 'show', 'flannel.1'], { allowFailure: true }).status !== 0, true, 'no IPv4 device');
    assert.match(inNetns(h1.netns, 'ip', ['-d', 'link', 'show', 'flannel-v6.1']).stdout, /vxlan id 1 local fd00:198::11 dev eth0/);
  });
  it('subnet.env has only the IPv6 lines; etcd keys read 0.0.0.0-0&<v6>-64', () => {
    assert.match(readFileSync(lab.subnetFile(h1), 'utf8'), /^FLANNEL_IPV6_NETWORK=fd00:10:244::\/56\nFLANNEL_IPV6_SUBNET=fd00:10:244:[0-9a-f]+::1\/64\nFLANNEL_MTU=1430\nFLANNEL_IPMASQ=false\n$/);
    const keys = lab.etcdctl(['get', '--prefix', '--keys-only', '/coreos.com/network/subnets/']).stdout.trim().split('\n').filter(Boolean);
    assert.equal(keys.length, 2);
    for (const key of keys) assert.match(key, /^\/coreos\.com\/network\/subnets\/0\.0\.0\.0-0&fd00:10:244:[0-9a-f]+::-64$/);
  });
});

describe('host-gw dual stack', () => {
  const lab = labForSuite({ prefix: 'ft6h', hosts: 2, backend: 'host-gw', dualStack: true, flanneldArgs: ['--ip-masq'] });
  const [h1, h2] = lab.layout.hosts as [LabHost, LabHost];

  it('routes both families via the peer public addresses; pods reach each other over both', () => {
    assert.deepEqual(lab.pingMatrix(4), []);
    assert.deepEqual(lab.pingMatrix(6), []);
    assert.match(inNetns(h1.netns, 'ip', ['-6', 'route', 'show', 'proto', '111']).stdout, new RegExp(`via ${h2.underlayIpv6} dev eth0`));
    assert.match(inNetns(h1.netns, 'ip', ['-4', 'route', 'show', 'proto', '111']).stdout, new RegExp(`via ${h2.underlayIp.replace(/\./g, '\\.')} dev eth0`));
  });

  it('--ip-masq installs the IPv6 rules too (ip6tables, ff00::/8)', () => {
    const nat6 = inNetns(h1.netns, 'ip6tables-save', ['-t', 'nat']).stdout;
    assert.match(nat6, /-A FLANNEL-POSTRTG -s fd00:10:244::\/56 ! -d ff00::\/8 -m comment --comment "flanneld masq" -j MASQUERADE --random-fully/);
    assert.match(inNetns(h1.netns, 'ip6tables-save', ['-t', 'filter']).stdout, /-A FLANNEL-FWD -d fd00:10:244::\/56 -m comment --comment "flanneld forward" -j ACCEPT/);
  });
});
