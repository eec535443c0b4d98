/**
 * Per-entry objects (leases, their attrs, resolved routes and neighbours, planned peers) share one hidden class
 * per set of keys. In Node 20's V8 an object literal that starts with a spread and adds anything after it
 * (`{ ...lease, expiresAtMs }`) gets a hidden class of its own per object: a Map, a DescriptorArray and a
 * PropertyArray, ~300 bytes each, 30,000 of them (7–9 MB) at 5,000 peers, and megamorphic property access on
 * every read. These tests fail on the spread-first literals the builders used before.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { PeerGroupPlanner } from '../../src/backend/peer-group-planner.js';
import { createVxlanBackend } from '../../src/backend/vxlan/vxlan-backend.js';
import { DesiredIndex } from '../../src/dataplane/desired-index.js';
import type { Lease } from '../../src/lease/lease.js';
import { Cidr, IpAddress } from '../../src/net/ip.js';
import { kubeAnnotations } from '../../src/subnet/kube-annotations.js';
import { nodeToLease } from '../../src/subnet/kube-node-lease.js';
import { parseStoredLease } from '../../src/subnet/stored-lease.js';
import { config } from '../support/fixtures.js';

// V8's own test intrinsic, compiled after the flag is set (it only affects code parsed later).
setFlagsFromString('--allow-natives-syntax');
const haveSameMap = new Function('a', 'b', 'return %HaveSameMap(a, b)') as (a: object, b: object) => boolean;

/** How many hidden classes the objects use beyond one per distinct key list (0 when they share). */
function extraHiddenClasses(objects: readonly object[]): number {
  const representatives = new Map<string, object[]>();
  let extra = 0;
  for (const object of objects) {
    const keys = Object.keys(object).join(',');
    const known = representatives.get(keys) ?? [];
    if (!known.some((other) => haveSameMap(other, object))) {
      if (known.length > 0) extra++;
      known.push(object);
    }
    representatives.set(keys, known);
  }
  return extra;
}

const COUNT = 400;
const mac = (i: number) => `0a:00:00:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
const leaseValue = (i: number) =>
  JSON.stringify({ PublicIP: `198.19.${i >> 8}.${i & 255}`, BackendType: 'vxlan', BackendData: { VNI: 1, VtepMAC: mac(i) } });

function storedLeases(): Lease[] {
  const leases: Lease[] = [];
  for (let i = 0; i < COUNT; i++) {
    const key = i % 2 === 0 ? `/coreos.com/network/subnets/10.${i >> 8}.${i & 255}.0-24` : `/coreos.com/network/subnets/10.${i >> 8}.${i & 255}.0-24&fd00:${i}::-64`;
    const parsed = parseStoredLease(key, leaseValue(i), i % 3 === 0 ? 1_000 + i : undefined, i % 5 === 0 ? undefined : BigInt(i + 1));
    assert.ok('lease' in parsed, 'malformed' in parsed ? parsed.malformed.reason : key);
    leases.push(parsed.lease);
  }
  return leases;
}

describe('per-entry objects share hidden classes', () => {
  it('leases and their attrs parsed from etcd', () => {
    const leases = storedLeases();
    assert.equal(extraHiddenClasses(leases), 0);
    assert.equal(extraHiddenClasses(leases.map((lease) => lease.attrs)), 0);
  });

  it('leases converted from Kubernetes Nodes', () => {
    const P = 'flannel.alpha.coreos.com/';
    const leases: Lease[] = [];
    for (let i = 0; i < COUNT; i++) {
      const annotations = { [`${P}backend-type`]: 'vxlan', [`${P}public-ip`]: `198.19.${i >> 8}.${i & 255}`, [`${P}backend-data`]: `{"VNI":1,"VtepMAC":"${mac(i)}"}` };
      const result = nodeToLease(
        { name: `n${i}`, resourceVersion: '1', annotations, podCIDR: `10.${i >> 8}.${i & 255}.0/24`, podCIDRs: [] },
        { annotations: kubeAnnotations('flannel.alpha.coreos.com'), enableIPv4: true, enableIPv6: false },
      );
      assert.ok('lease' in result, 'problem' in result ? result.problem : '');
      leases.push(result.lease);
    }
    assert.equal(extraHiddenClasses(leases), 0);
    assert.equal(extraHiddenClasses(leases.map((lease) => lease.attrs)), 0);
  });

  it('planned peers, and the routes and neighbours the desired index resolves', () => {
    const ext = { linkIndex: 2, name: 'eth0', mtu: 1500, ifaceAddr: Cidr.parse('198.18.0.11/24'), extAddr: IpAddress.parse('198.18.0.11'), prefixes: [Cidr.parse('198.18.0.0/24')] };
    const backend = createVxlanBackend({ config: config({ Network: '10.0.0.0/8', Backend: { Type: 'vxlan' } }), externalInterface: ext });
    const planning = backend.peerPlanning;
    assert.ok(planning);
    const planner = new PeerGroupPlanner(planning);
    planner.update(storedLeases().map((lease, i) => [`peer${i}`, lease] as const));
    // The planner's own per-peer records (private: nothing else exposes them).
    const records = [...(planner as unknown as { peers: Map<string, object> }).peers.values()];
    assert.equal(records.length, COUNT);
    assert.equal(extraHiddenClasses(records), 0);

    const index = new DesiredIndex(() => 7);
    index.rebuild(planner.groups);
    assert.equal(index.routes().length, COUNT);
    assert.equal(extraHiddenClasses(index.routes()), 0);
    assert.equal(extraHiddenClasses(index.neighbours()), 0);
  });
});
