/**
 * The state of the fake API server (pure): Nodes and Pods as JSON objects, one resourceVersion counter, the
 * history of Node changes that watches replay, and the controller-manager's job of giving new nodes pod CIDRs.
 *
 * resourceVersion semantics (kubernetes api-concepts): every change bumps the counter and stamps the object;
 * a list reports the counter; a watch from N replays every change after N, or fails with 410 Gone when the
 * history no longer reaches back to N (`compact()` is the knob; `maxHistory` compacts on its own). A patch
 * that changes nothing writes nothing (no new resourceVersion, no event), as the API server does.
 * PATCH on `nodes/<n>/status` keeps the old spec; PATCH on the node keeps the old status; metadata.name, uid and
 * creationTimestamp never change, a stale metadata.resourceVersion in a patch is a 409 Conflict, and a pod
 * CIDR may only go from unset to set.
 *
 * A node created with the annotation MANUAL_POD_CIDR_ANNOTATION is left without pod CIDRs (as by a
 * controller-manager without --allocate-node-cidrs); set them with a patch. `snapshot()` / `restore()` carry
 * the objects and the resourceVersion counter across a restart of the fake, without the watch history: a
 * restarted server answers watches from before the restart with 410 Gone, as an API server whose etcd history
 * was compacted meanwhile.
 */
import { Cidr } from '../net/ip.js';
import { ApiStatusError, type JsonObject, badRequest, gone, invalid, notFound } from './api-status.js';
import { type PatchType, applyPatch, deepEqual, isObject } from './patches.js';

export type NodeEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface NodeEvent {
  readonly type: NodeEventType;
  readonly resourceVersion: number;
  /** The node as of this event (for DELETED: its last state, stamped with the deletion's resourceVersion). */
  readonly object: JsonObject;
}

/** On a node at creation: the controller-manager part leaves it without pod CIDRs. */
export const MANUAL_POD_CIDR_ANNOTATION = 'fake-apiserver.flannel-ts.io/manual-pod-cidr';

/** What survives a restart of the fake (ClusterStore.snapshot / restore). */
export interface StoreSnapshot {
  readonly resourceVersion: number;
  readonly uidCounter: number;
  readonly nodes: readonly JsonObject[];
  readonly pods: readonly JsonObject[];
}

export interface ClusterStoreOptions {
  /** Pod CIDRs are assigned to new nodes from these (the controller-manager's --cluster-cidr). */
  readonly clusterCidr?: Cidr;
  readonly clusterCidrV6?: Cidr;
  readonly nodeCidrMaskSize?: number;
  readonly nodeCidrMaskSizeV6?: number;
  /** Assign pod CIDRs to nodes created without one (default true). */
  readonly allocateNodeCidrs?: boolean;
  /** Keep at most this many Node changes for watches to replay (default 10,000). */
  readonly maxHistory?: number;
  readonly now?: () => number;
  readonly uid?: () => string;
}

export class ClusterStore {
  private revision = 1;
  private readonly nodes = new Map<string, JsonObject>();
  private readonly pods = new Map<string, JsonObject>();
  private history: NodeEvent[] = [];
  /** Watches may start from any resourceVersion ≥ this. */
  private oldestWatchable = 1;
  private readonly listeners = new Set<(event: NodeEvent) => void>();
  private uidCounter = 0;

  constructor(private readonly options: ClusterStoreOptions = {}) {}

  get resourceVersion(): string {
    return String(this.revision);
  }

  get allocateNodeCidrs(): boolean {
    return this.options.allocateNodeCidrs !== false && (this.options.clusterCidr !== undefined || this.options.clusterCidrV6 !== undefined);
  }

  /** Every node (copies), sorted by name, and the resourceVersion they reflect. */
  listNodes(): { resourceVersion: string; items: JsonObject[] } {
    const items = [...this.nodes.keys()].sort().map((name) => structuredClone(this.nodes.get(name) as JsonObject));
    return { resourceVersion: this.resourceVersion, items };
  }

  getNode(name: string): JsonObject {
    const node = this.nodes.get(name);
    if (!node) throw notFound('nodes', name);
    return structuredClone(node);
  }

  /** Creates a node (ADDED); without a pod CIDR and with allocation on, then assigns one (MODIFIED). */
  createNode(object: unknown, options: { assignPodCidr?: boolean } = {}): JsonObject {
    const node = this.fresh(object, 'Node');
    const name = (node.metadata as JsonObject).name as string;
    if (this.nodes.has(name)) throw new ApiStatusError(409, 'AlreadyExists', `nodes ${JSON.stringify(name)} already exists`, { name, kind: 'nodes' });
    validateNode(node, name);
    this.write(name, node, 'ADDED');
    const manual = isObject((node.metadata as JsonObject).annotations) && ((node.metadata as JsonObject).annotations as JsonObject)[MANUAL_POD_CIDR_ANNOTATION] !== undefined;
    if (options.assignPodCidr !== false && !manual && this.allocateNodeCidrs && podCidrsOf(node).length === 0) this.assignPodCidrs(name);
    return this.getNode(name);
  }

  /** The controller-manager's part: give the node the next free pod CIDR of each configured family. */
  assignPodCidrs(name: string): JsonObject {
    const node = this.getNode(name);
    if (podCidrsOf(node).length > 0) return node;
    const taken = new Set([...this.nodes.values()].flatMap(podCidrsOf));
    const cidrs: string[] = [];
    for (const [network, size] of [[this.options.clusterCidr, this.options.nodeCidrMaskSize ?? 24], [this.options.clusterCidrV6, this.options.nodeCidrMaskSizeV6 ?? 64]] as const) {
      if (!network) continue;
      const free = nextFree(network, size, taken);
      if (!free) throw new ApiStatusError(500, 'InternalError', `no pod CIDR left in ${network} for node ${name}`);
      cidrs.push(free);
    }
    const spec = { ...(isObject(node.spec) ? node.spec : {}), podCIDR: cidrs[0], podCIDRs: cidrs };
    this.write(name, { ...node, spec }, 'MODIFIED');
    return this.getNode(name);
  }

  deleteNode(name: string): JsonObject {
    const node = this.getNode(name);
    this.nodes.delete(name);
    this.revision++;
    (node.metadata as JsonObject).resourceVersion = this.resourceVersion;
    this.record({ type: 'DELETED', resourceVersion: this.revision, object: node });
    return structuredClone(node);
  }

  /** PATCH a node (`subresource` "status" for nodes/<n>/status). Returns the node as stored afterwards. */
  patchNode(name: string, type: PatchType, body: string, subresource?: 'status'): JsonObject {
    const old = this.getNode(name);
    const patched = applyPatch(old, type, body);
    const oldMeta = old.metadata as JsonObject;
    const meta = isObject(patched.metadata) ? { ...patched.metadata } : {};
    if (meta.resourceVersion !== undefined && meta.resourceVersion !== oldMeta.resourceVersion) {
      throw new ApiStatusError(409, 'Conflict', `Operation cannot be fulfilled on nodes ${JSON.stringify(name)}: the object has been modified; please apply your changes to the latest version and try again`);
    }
    if (meta.name !== undefined && meta.name !== name) throw invalid('Node', name, 'metadata.name', 'Invalid value: field is immutable');
    const next: JsonObject = { ...patched, kind: 'Node', apiVersion: 'v1', metadata: { ...meta, name, uid: oldMeta.uid, creationTimestamp: oldMeta.creationTimestamp, resourceVersion: oldMeta.resourceVersion } };
    if (subresource === 'status') next.spec = old.spec;
    else next.status = old.status;
    const cidrFields = (node: JsonObject) => (isObject(node.spec) ? [node.spec.podCIDR, node.spec.podCIDRs] : []);
    if (podCidrsOf(old).length > 0 && !deepEqual(cidrFields(old), cidrFields(next))) {
      throw invalid('Node', name, 'spec.podCIDRs', 'Forbidden: node updates may not change podCIDR except from "" to valid');
    }
    validateNode(next, name);
    if (deepEqual(next, old)) return old;
    this.write(name, next, 'MODIFIED');
    return this.getNode(name);
  }

  createPod(namespace: string, object: unknown): JsonObject {
    const pod = this.fresh(object, 'Pod');
    const meta = pod.metadata as JsonObject;
    if (meta.namespace !== undefined && meta.namespace !== namespace) throw badRequest('the namespace of the object does not match the namespace of the request');
    meta.namespace = namespace;
    const key = `${namespace}/${meta.name as string}`;
    if (this.pods.has(key)) throw new ApiStatusError(409, 'AlreadyExists', `pods ${JSON.stringify(meta.name)} already exists`);
    this.revision++;
    meta.resourceVersion = this.resourceVersion;
    this.pods.set(key, pod);
    return structuredClone(pod);
  }

  getPod(namespace: string, name: string): JsonObject {
    const pod = this.pods.get(`${namespace}/${name}`);
    if (!pod) throw notFound('pods', name);
    return structuredClone(pod);
  }

  deletePod(namespace: string, name: string): JsonObject {
    const pod = this.getPod(namespace, name);
    this.pods.delete(`${namespace}/${name}`);
    this.revision++;
    return pod;
  }

  /**
   * The Node changes after `resourceVersion` for a watch, or ApiStatusError 410 when they are no longer kept.
   * "" and "0" mean "start now, with the current state as ADDED events" (synthetic events at the current
   * resourceVersion).
   */
  changesSince(resourceVersion: string): NodeEvent[] {
    if (resourceVersion === '' || resourceVersion === '0') {
      return this.listNodes().items.map((object) => ({ type: 'ADDED' as const, resourceVersion: this.revision, object: { kind: 'Node', apiVersion: 'v1', ...object } }));
    }
    if (!/^\d+$/.test(resourceVersion)) throw badRequest(`invalid resource version: ${JSON.stringify(resourceVersion)}`);
    const from = Number(resourceVersion);
    if (from < this.oldestWatchable - 1) throw gone(`too old resource version: ${from} (${this.oldestWatchable - 1})`);
    return this.history.filter((event) => event.resourceVersion > from);
  }

  /** Forget the history: any watch from an older resourceVersion now gets 410 Gone. */
  compact(): void {
    this.history = [];
    this.oldestWatchable = this.revision + 1;
  }

  /** The objects and counters (copies), for a restarted fake to `restore`. */
  snapshot(): StoreSnapshot {
    return {
      resourceVersion: this.revision, uidCounter: this.uidCounter,
      nodes: this.listNodes().items, pods: [...this.pods.values()].map((pod) => structuredClone(pod)),
    };
  }

  /** Replaces everything with `snapshot`; the watch history starts empty (older resourceVersions are 410). */
  restore(snapshot: StoreSnapshot): void {
    if (!Number.isSafeInteger(snapshot.resourceVersion) || !Array.isArray(snapshot.nodes) || !Array.isArray(snapshot.pods)) {
      throw badRequest('not a snapshot of the fake API server (want resourceVersion, nodes, pods)');
    }
    this.nodes.clear();
    this.pods.clear();
    for (const node of snapshot.nodes) this.nodes.set(String((node.metadata as JsonObject).name), structuredClone(node));
    for (const pod of snapshot.pods) {
      const meta = pod.metadata as JsonObject;
      this.pods.set(`${String(meta.namespace)}/${String(meta.name)}`, structuredClone(pod));
    }
    this.revision = snapshot.resourceVersion;
    this.uidCounter = Number.isSafeInteger(snapshot.uidCounter) ? snapshot.uidCounter : this.uidCounter;
    this.compact();
  }

  /** Called with every Node change, after it is stored. */
  subscribe(listener: (event: NodeEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private fresh(object: unknown, kind: string): JsonObject {
    if (!isObject(object)) throw badRequest(`the body of the request is not a ${kind} object`);
    const copy = structuredClone(object);
    if (copy.kind !== undefined && copy.kind !== kind) throw badRequest(`expected kind ${kind}, got ${JSON.stringify(copy.kind)}`);
    const meta = isObject(copy.metadata) ? copy.metadata : {};
    const name = meta.name;
    if (typeof name !== 'string' || !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(name) || name.length > 253) {
      throw invalid(kind, String(name ?? ''), 'metadata.name', `Invalid value: ${JSON.stringify(name ?? '')}: a lowercase RFC 1123 subdomain is required`);
    }
    const created = new Date(Math.floor((this.options.now ?? Date.now)() / 1000) * 1000).toISOString().replace('.000Z', 'Z');
    const uid = this.options.uid?.() ?? `00000000-0000-4000-8000-${String(++this.uidCounter).padStart(12, '0')}`;
    return { ...copy, kind, apiVersion: 'v1', metadata: { ...meta, uid, creationTimestamp: created } };
  }

  private write(name: string, node: JsonObject, type: NodeEventType): void {
    this.revision++;
    const stored = { ...node, metadata: { ...(node.metadata as JsonObject), resourceVersion: this.resourceVersion } };
    this.nodes.set(name, stored);
    this.record({ type, resourceVersion: this.revision, object: structuredClone(stored) });
  }

  private record(event: NodeEvent): void {
    this.history.push(event);
    const max = this.options.maxHistory ?? 10_000;
    if (this.history.length > max) {
      const dropped = this.history.splice(0, this.history.length - max);
      this.oldestWatchable = (dropped.at(-1)?.resourceVersion ?? 0) + 1;
    }
    for (const listener of this.listeners) listener(event);
  }
}

export function podCidrsOf(node: JsonObject): string[] {
  const spec = isObject(node.spec) ? node.spec : {};
  if (Array.isArray(spec.podCIDRs) && spec.podCIDRs.length > 0) return spec.podCIDRs.map(String);
  return typeof spec.podCIDR === 'string' && spec.podCIDR !== '' ? [spec.podCIDR] : [];
}

/** What the API server's validation would refuse: non-string annotations/labels, malformed pod CIDRs, conditions. */
function validateNode(node: JsonObject, name: string): void {
  const meta = node.metadata as JsonObject;
  for (const field of ['annotations', 'labels'] as const) {
    const map = meta[field];
    if (map === undefined || map === null) continue;
    if (!isObject(map)) throw invalid('Node', name, `metadata.${field}`, 'must be a map of strings');
    for (const [key, value] of Object.entries(map)) {
      if (typeof value !== 'string') throw invalid('Node', name, `metadata.${field}[${JSON.stringify(key)}]`, `must be a string, got ${JSON.stringify(value)}`);
    }
  }
  const spec = node.spec;
  if (spec !== undefined && !isObject(spec)) throw invalid('Node', name, 'spec', 'must be an object');
  const cidrs = podCidrsOf(node);
  for (const cidr of cidrs) if (!Cidr.tryParse(cidr)) throw invalid('Node', name, 'spec.podCIDRs', `Invalid value: ${JSON.stringify(cidr)}: must be a valid CIDR`);
  if (isObject(spec) && Array.isArray(spec.podCIDRs) && spec.podCIDRs.length > 0 && spec.podCIDR !== spec.podCIDRs[0]) {
    throw invalid('Node', name, 'spec.podCIDR', 'must equal the first entry of spec.podCIDRs');
  }
  const status = node.status;
  if (isObject(status) && status.conditions !== undefined) {
    if (!Array.isArray(status.conditions) || !status.conditions.every((c) => isObject(c) && typeof c.type === 'string' && typeof (c.status ?? '') === 'string')) {
      throw invalid('Node', name, 'status.conditions', 'each condition needs a string type and status');
    }
  }
}

function nextFree(network: Cidr, size: number, taken: ReadonlySet<string>): string | undefined {
  if (size < network.prefixLength || size > network.ip.bits) return undefined;
  // From the first block up, as the controller-manager's range allocator does (the first node gets x.y.0.0/24).
  let candidate = Cidr.of(network.masked().ip, size);
  const count = 1n << BigInt(size - network.prefixLength);
  for (let index = 0n; index < count && index < 65_536n; index++, candidate = candidate.next()) {
    if (!taken.has(candidate.toString())) return candidate.toString();
  }
  return undefined;
}
