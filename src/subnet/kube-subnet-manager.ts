/**
 * Upstream's Kubernetes subnet manager (reference §4) behind the SubnetManager port.
 *
 * - The network config is `--net-config-path`, decoded without etcd-mode validation (as upstream), read until
 *   it reads once, then kept.
 * - Our lease is our Node's pod CIDR(s): read the node (retried every 3 s for 30 s), check the CIDRs against the
 *   network config *before* publishing anything, then patch our annotations onto `nodes/<name>/status` (strategic
 *   merge, upstream's exact body; retried likewise). The lease never expires: no `expiresAtMs`, and renewing
 *   returns it unchanged.
 * - Peers come from a list + watch of Nodes (kube-node-watch.ts); with the `alloc` backend there is no node
 *   watch (upstream: someone else routes), only our own lease.
 * - completeLease patches NetworkUnavailable=False (reason FlannelIsUp) when `--set-node-network-unavailable`.
 */
import { type NetworkConfig, parseNetworkConfig } from '../config/network-config.js';
import type { Lease, LeaseAttrs } from '../lease/lease.js';
import type { LeaseWatchResult } from '../lease/lease-tracker.js';
import type { MacAddress } from '../net/mac.js';
import { FlannelError, errorMessage } from '../support/errors.js';
import type { Logger } from '../support/logger.js';
import { Backoff, sleep, whenAborted } from '../support/timing.js';
import type { KubeAnnotations } from './kube-annotations.js';
import type { KubeApi, KubeNode } from './kube-api.js';
import { ownLeaseSubnets, ownPodCidrs } from './kube-node-lease.js';
import { NodeLeaseTable } from './kube-node-table.js';
import { watchNodeLeases } from './kube-node-watch.js';
import { annotationPatch, networkUnavailablePatch } from './kube-patches.js';
import { type RetryPolicy, UPSTREAM_RETRY, retryKubeCall } from './kube-retry.js';
import { storedPublicIPs, storedVtepMacs } from './kube-stored-node.js';
import type { MalformedEntry } from './registry.js';
import type { SubnetManager } from './subnet-manager.js';

export interface KubeSubnetManagerOptions {
  readonly api: KubeApi;
  readonly nodeName: string;
  readonly annotations: KubeAnnotations;
  /** Reads `--net-config-path` (an adapter: the file system in flanneld, a string in tests). */
  readonly readNetConfig: () => Promise<string>;
  readonly logger: Logger;
  readonly setNodeNetworkUnavailable: boolean;
  /** EVENT_QUEUE_DEPTH. */
  readonly eventQueueDepth: number;
  readonly now?: () => number;
  /** Upstream's 3 s / 30 s; shorter in tests. */
  readonly retry?: { readonly intervalMs: number; readonly timeoutMs: number };
  readonly watchBackoff?: () => Backoff;
}

export class KubeSubnetManager implements SubnetManager {
  readonly name: string;
  private config: NetworkConfig | undefined;
  private ownLease: Lease | undefined;
  private table: NodeLeaseTable | undefined;
  private readonly now: () => number;

  constructor(private readonly options: KubeSubnetManagerOptions) {
    this.name = `Kubernetes Subnet Manager - ${options.nodeName}`;
    this.now = options.now ?? Date.now;
  }

  async getNetworkConfig(): Promise<NetworkConfig> {
    if (this.config) return this.config;
    let text: string;
    try {
      text = await this.options.readNetConfig();
    } catch (error) {
      throw new FlannelError('NET_CONF_UNREADABLE', `failed to read net conf: ${errorMessage(error)}`, { cause: error, retryable: true });
    }
    this.config = parseNetworkConfig(text, { validate: false });
    return this.config;
  }

  /** `prefer` is ignored: the node's pod CIDR is the only subnet there is. */
  async acquireLease(config: NetworkConfig, attrs: LeaseAttrs): Promise<Lease> {
    const { api, nodeName, annotations, logger } = this.options;
    const what = `timeout contacting kube-api, failed to patch node ${JSON.stringify(nodeName)}`;
    // With alloc there is no node cache upstream either; it reads with resourceVersion 0 (the API server's cache).
    const readOptions = config.backendType === 'alloc' ? { resourceVersion: '0' } : {};
    const node = await retryKubeCall(() => api.getNode(nodeName, readOptions), this.retryPolicy(), 'KUBE_ACQUIRE_TIMEOUT', what);
    const subnets = ownLeaseSubnets(config, ownPodCidrs(node), nodeName);
    const patch = annotationPatch(node, attrs, annotations);
    if (patch !== undefined && patch !== '{}') {
      await retryKubeCall(() => api.patchNodeStatus(nodeName, patch), this.retryPolicy(), 'KUBE_ACQUIRE_TIMEOUT', what);
      logger.info({ node: nodeName, patch }, 'node annotations patched');
    }
    const lease: Lease = { ...subnets, attrs };
    this.ownLease = lease;
    this.table?.setOwn(nodeName, lease);
    return lease;
  }

  /** Kubernetes leases do not expire; the lease is returned as it is (no API call). */
  renewLease(lease: Lease): Promise<Lease> {
    return Promise.resolve(lease);
  }

  watchLeases(signal: AbortSignal, onMalformed: (entry: MalformedEntry) => void): AsyncIterable<LeaseWatchResult> {
    const config = this.config;
    if (!config) throw new FlannelError('NOT_READY', 'watchLeases called before getNetworkConfig');
    if (config.backendType === 'alloc') return this.ownLeaseOnly(signal);
    const table = new NodeLeaseTable({ annotations: this.options.annotations, enableIPv4: config.enableIPv4, enableIPv6: config.enableIPv6 });
    if (this.ownLease) table.setOwn(this.options.nodeName, this.ownLease);
    this.table = table;
    return watchNodeLeases({
      api: this.options.api, table, signal, logger: this.options.logger, onMalformed, queueDepth: this.options.eventQueueDepth,
      ...(this.options.watchBackoff ? { backoff: this.options.watchBackoff() } : {}),
    });
  }

  async storedPublicIPs(signal?: AbortSignal): Promise<{ publicIP: string; publicIPv6: string }> {
    return storedPublicIPs(await this.readOwnNode(signal), this.options.annotations);
  }

  async storedVtepMacs(signal?: AbortSignal): Promise<{ v4?: MacAddress; v6?: MacAddress }> {
    const { problems, ...macs } = storedVtepMacs(await this.readOwnNode(signal), this.options.annotations);
    for (const problem of problems) this.options.logger.warn({ node: this.options.nodeName, problem }, 'ignoring stored VTEP MAC');
    return macs;
  }

  async completeLease(_lease: Lease, signal: AbortSignal): Promise<void> {
    if (!this.options.setNodeNetworkUnavailable) return;
    const { api, nodeName, logger } = this.options;
    const backoff = new Backoff(1000, 30_000);
    while (!signal.aborted) {
      try {
        await api.patchNodeStatus(nodeName, networkUnavailablePatch(this.now()), signal);
        logger.info({ node: nodeName }, 'node condition NetworkUnavailable set to False');
        return;
      } catch (error) {
        if (signal.aborted) return;
        if (error instanceof FlannelError && !error.retryable) throw error;
        logger.warn({ node: nodeName, err: errorMessage(error) }, 'setting NetworkUnavailable=False failed; retrying');
        await sleep(backoff.next(), signal);
      }
    }
  }

  close(): Promise<void> {
    return this.options.api.close();
  }

  private retryPolicy(signal?: AbortSignal): RetryPolicy {
    return { ...(this.options.retry ?? UPSTREAM_RETRY), now: this.now, ...(signal ? { signal } : {}) };
  }

  private readOwnNode(signal?: AbortSignal): Promise<KubeNode> {
    const { api, nodeName } = this.options;
    return retryKubeCall(() => api.getNode(nodeName, signal ? { signal } : {}), this.retryPolicy(signal), 'KUBE_NODE_UNREADABLE',
      `cannot read node ${JSON.stringify(nodeName)}`);
  }

  /** alloc: no node watch (upstream's "Node controller skips sync"); our lease is the whole picture. */
  private async *ownLeaseOnly(signal: AbortSignal): AsyncGenerator<LeaseWatchResult> {
    yield { kind: 'snapshot', leases: this.ownLease ? [this.ownLease] : [] };
    await new Promise<void>((resolve) => whenAborted(signal, resolve));
  }
}
