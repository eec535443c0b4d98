/** The node table: which node changes become lease events (the update rule), and listings diffed. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { leaseKey } from '../../src/lease/lease.js';
import type { LeaseEvent } from '../../src/lease/lease-tracker.js';
import { kubeAnnotations } from '../../src/subnet/kube-annotations.js';
import type { KubeNode } from '../../src/subnet/kube-api.js';
import { NodeLeaseTable } from '../../src/subnet/kube-node-table.js';
import { lease } from '../support/fixtures.js';

const names = kubeAnnotations('flannel.alpha.coreos.com');
const P = 'flannel.alpha.coreos.com/';
function node(name: string, index: number, extra: Record<string, string> = {}, dual = true): KubeNode {
  return {
    name, resourceVersion: String(index),
    annotations: {
      [`${P}kube-subnet-manager`]: 'true', [`${P}backend-type`]: 'host-gw', [`${P}backend-data`]: 'null', [`${P}backend-v6-data`]: 'null',
      [`${P}public-ip`]: `198.18.0.${index}`, [`${P}public-ipv6`]: `fd00::${index}`, ...extra,
    },
    podCIDR: `10.244.${index}.0/24`,
    podCIDRs: dual ? [`10.244.${index}.0/24`, `fd00:10:244:${index}::/64`] : [`10.244.${index}.0/24`],
  };
}
const describeEvents = (events: readonly LeaseEvent[]) =>
  events.map((event) => (event.type === 'added' ? `+${leaseKey(event.lease)} ${event.lease.attrs.publicIP}/${event.lease.attrs.publicIPv6}` : `-${leaseKey(event)}`));
const dualTable = () => new NodeLeaseTable({ annotations: names, enableIPv4: true, enableIPv6: true });

describe('node table: the update rule', () => {
  const cases: ReadonlyArray<[string, KubeNode, string[]]> = [
    // Upstream ignores these two in dual stack (both families' triples must change); a peer's route would go stale.
    ['only the IPv4 public-ip changed (dual stack)', node('b', 2, { [`${P}public-ip`]: '198.18.0.99' }), ['+10.244.2.0-24&fd00:10:244:2::-64 198.18.0.99/fd00::2']],
    ['only the IPv6 public-ip changed (dual stack)', node('b', 2, { [`${P}public-ipv6`]: 'fd00::99' }), ['+10.244.2.0-24&fd00:10:244:2::-64 198.18.0.2/fd00::99']],
    ['backend type changed', node('b', 2, { [`${P}backend-type`]: 'vxlan' }), ['+10.244.2.0-24&fd00:10:244:2::-64 198.18.0.2/fd00::2']],
    ['an unrelated annotation changed', node('b', 2, { 'example.com/x': 'y' }), []],
    ['the resourceVersion alone changed (resync)', { ...node('b', 2), resourceVersion: '77' }, []],
    ['it stopped being managed', node('b', 2, { [`${P}kube-subnet-manager`]: 'false' }), ['-10.244.2.0-24&fd00:10:244:2::-64']],
    ['its public-ip became garbage (kept, reported)', node('b', 2, { [`${P}public-ip`]: 'nope' }), []],
  ];
  for (const [name, update, expected] of cases) {
    it(name, () => {
      const table = dualTable();
      table.reset([node('b', 2)]);
      const change = table.apply('MODIFIED', update);
      assert.deepEqual(describeEvents(change.events), expected);
      assert.equal(table.snapshot().length, expected[0]?.startsWith('-') ? 0 : 1);
    });
  }
  it('reports the unreadable node by name and keeps its last good lease', () => {
    const table = dualTable();
    table.reset([node('b', 2)]);
    const change = table.apply('MODIFIED', node('b', 2, { [`${P}public-ip`]: 'nope' }));
    assert.deepEqual(change.problems, [{ key: 'node/b', reason: 'invalid IP address format' }]);
    assert.equal(table.snapshot()[0]?.attrs.publicIP.toString(), '198.18.0.2');
  });
  it('a node that becomes managed is added; a deleted one removed', () => {
    const table = dualTable();
    table.reset([node('c', 3, { [`${P}kube-subnet-manager`]: '' })]);
    assert.deepEqual(table.snapshot(), []);
    assert.deepEqual(describeEvents(table.apply('MODIFIED', node('c', 3)).events), ['+10.244.3.0-24&fd00:10:244:3::-64 198.18.0.3/fd00::3']);
    assert.deepEqual(describeEvents(table.apply('DELETED', node('c', 3)).events), ['-10.244.3.0-24&fd00:10:244:3::-64']);
    assert.deepEqual(table.apply('DELETED', node('c', 3)).events, []);
  });
});

describe('node table: listings', () => {
  it('a re-list removes nodes deleted meanwhile and changes nobody else', () => {
    const table = new NodeLeaseTable({ annotations: names, enableIPv4: true, enableIPv6: false });
    table.reset([node('a', 1, {}, false), node('b', 2, {}, false), node('c', 3, {}, false)]);
    const before = table.snapshot();
    const change = table.reset([node('a', 1, {}, false), node('c', 3, {}, false)]);
    assert.deepEqual(describeEvents(change.events), ['-10.244.2.0-24']);
    const after = table.snapshot();
    assert.equal(after[0], before[0], 'unchanged leases keep their identity');
    assert.equal(after[1], before[2]);
  });
  it('represents our node by the lease we hold and refuses a node claiming our CIDR', () => {
    const table = new NodeLeaseTable({ annotations: names, enableIPv4: true, enableIPv6: false });
    const ours = lease('10.244.1.0/24', '198.18.0.1', 'host-gw');
    table.setOwn('a', ours);
    const change = table.reset([node('a', 1, { [`${P}public-ip`]: '203.0.113.1' }, false), { ...node('impostor', 9, {}, false), podCIDR: '10.244.1.0/24', podCIDRs: ['10.244.1.0/24'] }]);
    assert.deepEqual(table.snapshot(), [ours]);
    assert.deepEqual(change.problems, [{ key: 'node/impostor', reason: 'claims our pod CIDR 10.244.1.0-24 (node a)' }]);
    assert.deepEqual(describeEvents(table.apply('DELETED', node('a', 1)).events), ['-10.244.1.0-24']);
  });
});
