/** The fake API server's state: resourceVersions, watch replay and 410, patches as the API server applies them. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ClusterStore, MANUAL_POD_CIDR_ANNOTATION } from '../../src/kube-fake/cluster-store.js';
import { applyPatch } from '../../src/kube-fake/patches.js';
import { Cidr } from '../../src/net/ip.js';

const SMP = 'application/strategic-merge-patch+json';
const store = () => new ClusterStore({ clusterCidr: Cidr.parse('10.244.0.0/16'), now: () => 0 });
const meta = (object: Record<string, unknown>) => object.metadata as Record<string, unknown>;

describe('fake cluster store', () => {
  it('stamps every change with a new resourceVersion and replays changes after one', () => {
    const s = store();
    const start = s.resourceVersion;
    s.createNode({ metadata: { name: 'a' } });
    assert.deepEqual(s.changesSince(start).map((e) => `${e.type} ${e.resourceVersion} ${JSON.stringify((e.object.spec as object) ?? {})}`), [
      `ADDED ${Number(start) + 1} {}`, `MODIFIED ${Number(start) + 2} {"podCIDR":"10.244.0.0/24","podCIDRs":["10.244.0.0/24"]}`,
    ]);
    assert.equal(meta(s.getNode('a')).resourceVersion, s.resourceVersion);
    assert.deepEqual(s.changesSince(s.resourceVersion), []);
  });
  it('"" and "0" start with the current state as ADDED events', () => {
    const s = store();
    s.createNode({ metadata: { name: 'a' } });
    for (const from of ['', '0']) assert.deepEqual(s.changesSince(from).map((e) => `${e.type} ${meta(e.object).name}`), ['ADDED a']);
  });
  it('410 Gone after compaction or past maxHistory; 400 for a non-numeric resourceVersion', () => {
    const s = new ClusterStore({ maxHistory: 2 });
    const start = s.resourceVersion;
    s.createNode({ metadata: { name: 'a' } });
    s.createNode({ metadata: { name: 'b' } });
    s.createNode({ metadata: { name: 'c' } });
    assert.throws(() => s.changesSince(start), { code: 410, reason: 'Expired', message: /too old resource version/ });
    assert.equal(s.changesSince(String(Number(start) + 1)).length, 2);
    s.compact();
    assert.throws(() => s.changesSince(String(Number(s.resourceVersion) - 1)), { code: 410 });
    assert.deepEqual(s.changesSince(s.resourceVersion), []);
    assert.throws(() => s.changesSince('abc'), { code: 400 });
  });
  it('/status keeps spec, the node keeps status; no-op patches write nothing; stale resourceVersion conflicts', () => {
    const s = store();
    s.createNode({ metadata: { name: 'a' } });
    s.patchNode('a', SMP, '{"spec":{"unschedulable":true},"status":{"phase":"x"}}', 'status');
    assert.deepEqual([(s.getNode('a').spec as Record<string, unknown>).unschedulable, (s.getNode('a').status as Record<string, unknown>).phase], [undefined, 'x']);
    s.patchNode('a', SMP, '{"spec":{"unschedulable":true},"status":{"phase":"y"}}');
    assert.deepEqual([(s.getNode('a').spec as Record<string, unknown>).unschedulable, (s.getNode('a').status as Record<string, unknown>).phase], [true, 'x']);
    const rv = s.resourceVersion;
    s.patchNode('a', SMP, '{"spec":{"unschedulable":true}}');
    assert.equal(s.resourceVersion, rv);
    assert.throws(() => s.patchNode('a', SMP, '{"metadata":{"resourceVersion":"1","labels":{"x":"y"}}}'), { code: 409 });
    assert.throws(() => s.patchNode('a', SMP, '{"metadata":{"annotations":{"n":1}}}'), { code: 422, message: /must be a string, got 1/ });
  });
  it('pod CIDRs: allocated in order, then immutable', () => {
    const s = store();
    for (const name of ['a', 'b']) s.createNode({ metadata: { name } });
    s.createNode({ metadata: { name: 'c' }, spec: { podCIDR: '10.244.1.0/24' } });
    s.deleteNode('a');
    s.createNode({ metadata: { name: 'd' } });
    assert.deepEqual(['b', 'c', 'd'].map((n) => (s.getNode(n).spec as Record<string, unknown>).podCIDR), ['10.244.1.0/24', '10.244.1.0/24', '10.244.0.0/24']);
    assert.throws(() => s.patchNode('b', SMP, '{"spec":{"podCIDR":"10.244.9.0/24"}}'), { code: 422, message: /node updates may not change podCIDR/ });
  });
});

describe('fake cluster store across a restart', () => {
  it('a node with the manual-pod-CIDR annotation gets none until someone sets it', () => {
    const s = store();
    s.createNode({ metadata: { name: 'm', annotations: { [MANUAL_POD_CIDR_ANNOTATION]: 'true' } } });
    assert.equal((s.getNode('m').spec as Record<string, unknown> | undefined)?.podCIDR, undefined);
    s.patchNode('m', 'application/merge-patch+json', '{"spec":{"podCIDR":"10.244.7.0/24","podCIDRs":["10.244.7.0/24"]}}');
    assert.equal((s.getNode('m').spec as Record<string, unknown>).podCIDR, '10.244.7.0/24');
  });
  it('snapshot → restore keeps objects and counters; the history is gone (410 for older watches)', () => {
    const s = store();
    s.createNode({ metadata: { name: 'a' } });
    s.createPod('kube-flannel', { metadata: { name: 'p' }, spec: { nodeName: 'a' } });
    const before = s.resourceVersion;
    const snapshot = JSON.parse(JSON.stringify(s.snapshot())) as ReturnType<ClusterStore['snapshot']>;
    const restored = store();
    restored.restore(snapshot);
    assert.equal(restored.resourceVersion, before);
    assert.deepEqual(restored.getNode('a'), s.getNode('a'));
    assert.equal((restored.getPod('kube-flannel', 'p').spec as Record<string, unknown>).nodeName, 'a');
    assert.throws(() => restored.changesSince(String(Number(before) - 1)), { code: 410 });
    assert.deepEqual(restored.changesSince(before), []);
    restored.createNode({ metadata: { name: 'b' } });
    assert.notEqual(meta(restored.getNode('b')).uid, meta(restored.getNode('a')).uid, 'uids stay unique');
    assert.deepEqual(restored.changesSince(before).map((e) => `${e.type} ${meta(e.object).name}`), ['ADDED b', 'MODIFIED b']);
    assert.throws(() => restored.restore({ nodes: 'x' } as never), { code: 400 });
  });
});

describe('patches', () => {
  const node = { metadata: { name: 'a', annotations: { x: '1', y: '2' }, finalizers: ['f1'] }, spec: { podCIDRs: ['10.0.0.0/24'] },
    status: { conditions: [{ type: 'Ready', status: 'True' }, { type: 'NetworkUnavailable', status: 'True', reason: 'NoRoute' }] } };
  it('strategic merge: maps merge, null deletes, conditions by type, primitive lists merge, directives', () => {
    const result = applyPatch(structuredClone(node), SMP, JSON.stringify({
      metadata: { annotations: { x: null, z: '3' }, finalizers: ['f2'] },
      status: { conditions: [{ type: 'NetworkUnavailable', status: 'False', reason: 'FlannelIsUp' }, { type: 'Ready', $patch: 'delete' }], '$setElementOrder/conditions': [{ type: 'NetworkUnavailable' }] },
      spec: { '$deleteFromPrimitiveList/podCIDRs': ['10.0.0.0/24'] },
    }));
    assert.deepEqual(result, { metadata: { name: 'a', annotations: { y: '2', z: '3' }, finalizers: ['f1', 'f2'] }, spec: { podCIDRs: [] },
      status: { conditions: [{ type: 'NetworkUnavailable', status: 'False', reason: 'FlannelIsUp' }] } });
  });
  it('merge patch replaces lists; JSON patch needs an array and applies its operations', () => {
    const merged = applyPatch(structuredClone(node), 'application/merge-patch+json', '{"status":{"conditions":[{"type":"X"}]}}');
    assert.deepEqual((merged.status as Record<string, unknown>).conditions, [{ type: 'X' }]);
    assert.throws(() => applyPatch(structuredClone(node), 'application/json-patch+json', '{"metadata":{}}'), { code: 400, message: /cannot unmarshal object into Go value of type \[\]handlers.jsonPatchOp/ });
    const patched = applyPatch(structuredClone(node), 'application/json-patch+json', '[{"op":"add","path":"/metadata/annotations/a~1b","value":"v"},{"op":"remove","path":"/status/conditions/0"},{"op":"test","path":"/metadata/name","value":"a"}]');
    assert.equal((meta(patched).annotations as Record<string, string>)['a/b'], 'v');
    assert.equal(((patched.status as Record<string, unknown>).conditions as unknown[]).length, 1);
    assert.throws(() => applyPatch(structuredClone(node), 'application/json-patch+json', '[{"op":"test","path":"/metadata/name","value":"b"}]'), { code: 422 });
    assert.throws(() => applyPatch(structuredClone(node), SMP, '{"metadata":{"$bogus":1}}'), { code: 400 });
    assert.throws(() => applyPatch(structuredClone(node), SMP, 'not json'), { code: 400 });
  });
});
