/**
 * The peers known from Nodes, by node name, fed by listings and watch events; pure. It is what turns the Node
 * stream into the lease stream a daemon consumes:
 *
 * - Only nodes annotated `kube-subnet-manager: "true"` are peers.
 * - An update is an event exactly when the node's lease changed — any family's public address, backend data or
 *   type, or its pod CIDRs. Upstream ignores a dual-stack change unless both families' annotations changed
 *   (reference §13.10); that rule is not reproduced.
 * - A node that becomes unreadable (bad public-ip, …) keeps its last good lease and is reported; a node that
 *   stops being managed or is deleted is removed. A listing is diffed the same way, so a node deleted while the
 *   watch was down disappears and nobody else's lease changes.
 * - Our own node is represented by the lease we acquired (its annotations may say otherwise, e.g. with
 *   public-ip-overwrite); another node claiming our pod CIDR is reported, never a peer.
 */
import { type Lease, leaseKey, sameLease } from '../lease/lease.js';
import type { LeaseEvent } from '../lease/lease-tracker.js';
import type { KubeNode } from './kube-api.js';
import { type NodeLeaseContext, isManagedNode, nodeToLease } from './kube-node-lease.js';
import type { MalformedEntry } from './registry.js';

export interface NodeTableChange {
  readonly events: readonly LeaseEvent[];
  readonly problems: readonly MalformedEntry[];
}

export class NodeLeaseTable {
  private readonly leases = new Map<string, Lease>();
  private own: { readonly name: string; readonly lease: Lease } | undefined;

  constructor(private readonly context: NodeLeaseContext) {}

  /** Our node and the lease we hold for it (set after every acquisition). */
  setOwn(name: string, lease: Lease): void {
    this.own = { name, lease };
    if (this.leases.has(name)) this.leases.set(name, lease);
  }

  /** Every current lease, ours included when our node is listed. */
  snapshot(): Lease[] {
    return [...this.leases.values()];
  }

  /** Replaces the table with a full listing; returns the events that take the old table to the new one. */
  reset(nodes: readonly KubeNode[]): NodeTableChange {
    const events: LeaseEvent[] = [];
    const problems: MalformedEntry[] = [];
    const seen = new Set<string>();
    for (const node of nodes) {
      seen.add(node.name);
      this.update(node, events, problems);
    }
    for (const [name, lease] of [...this.leases]) {
      if (seen.has(name)) continue;
      this.leases.delete(name);
      events.push(removal(lease));
    }
    return { events, problems };
  }

  /** One watch event (ADDED/MODIFIED: the node as it is now; DELETED: its last state). */
  apply(type: 'ADDED' | 'MODIFIED' | 'DELETED', node: KubeNode): NodeTableChange {
    const events: LeaseEvent[] = [];
    const problems: MalformedEntry[] = [];
    if (type === 'DELETED') {
      const previous = this.leases.get(node.name);
      this.leases.delete(node.name);
      if (previous) events.push(removal(previous));
    } else {
      this.update(node, events, problems);
    }
    return { events, problems };
  }

  private update(node: KubeNode, events: LeaseEvent[], problems: MalformedEntry[]): void {
    const previous = this.leases.get(node.name);
    const next = this.leaseOf(node, previous, problems);
    if (next === previous) return;
    if (next === undefined) {
      this.leases.delete(node.name);
      if (previous) events.push(removal(previous));
      return;
    }
    this.leases.set(node.name, next);
    if (previous && leaseKey(previous) !== leaseKey(next)) events.push(removal(previous));
    if (!previous || !sameLease(previous, next)) events.push({ type: 'added', lease: next });
  }

  /** The node's lease now: undefined when it is not a peer, `previous` when it is unreadable. */
  private leaseOf(node: KubeNode, previous: Lease | undefined, problems: MalformedEntry[]): Lease | undefined {
    if (this.own?.name === node.name) return this.own.lease;
    if (!isManagedNode(node, this.context.annotations)) return undefined;
    const result = nodeToLease(node, this.context);
    if ('problem' in result) {
      problems.push({ key: `node/${node.name}`, reason: result.problem });
      return previous;
    }
    if (this.own && leaseKey(result.lease) === leaseKey(this.own.lease)) {
      problems.push({ key: `node/${node.name}`, reason: `claims our pod CIDR ${leaseKey(result.lease)} (node ${this.own.name})` });
      return undefined;
    }
    // Keep the previous object when nothing changed, so unchanged nodes cost nothing downstream.
    return previous && sameLease(previous, result.lease) ? previous : result.lease;
  }
}

function removal(lease: Lease): LeaseEvent {
  return { type: 'removed', subnet: lease.subnet, ...(lease.ipv6Subnet ? { ipv6Subnet: lease.ipv6Subnet } : {}) };
}
