/**
 * The KubeApi port over the fake API server's store, without HTTP: component tests run daemons in Kubernetes
 * mode on MemoryKernel with it. Store failures become KubeApiError with the same status; `fail` injects
 * failures per call; `calls` records every call.
 */
import { decodeNode } from '../../src/adapters/kube/node-object.js';
import { ApiStatusError } from '../../src/kube-fake/api-status.js';
import type { ClusterStore, NodeEvent } from '../../src/kube-fake/cluster-store.js';
import { type KubeApi, KubeApiError, type KubeNode, type NodeList, type NodeWatchEvent } from '../../src/subnet/kube-api.js';

export type KubeCall = 'getNode' | 'getPodNodeName' | 'listNodes' | 'watchNodes' | 'patchNodeStatus';

export class MemoryKubeApi implements KubeApi {
  readonly calls: string[] = [];
  /** Called before each call; an error it returns is thrown instead of doing the call. */
  fail: (call: KubeCall, detail: string) => Error | undefined = () => undefined;

  constructor(readonly store: ClusterStore) {}

  async getNode(name: string): Promise<KubeNode> {
    this.enter('getNode', name);
    return node(translate(() => this.store.getNode(name)));
  }

  async getPodNodeName(namespace: string, name: string): Promise<string> {
    this.enter('getPodNodeName', `${namespace}/${name}`);
    const pod = translate(() => this.store.getPod(namespace, name)) as { spec?: { nodeName?: string } };
    return pod.spec?.nodeName ?? '';
  }

  async listNodes(): Promise<NodeList> {
    this.enter('listNodes', '');
    const { resourceVersion, items } = this.store.listNodes();
    return { resourceVersion, nodes: items.map(node), malformed: [] };
  }

  async *watchNodes(resourceVersion: string, signal: AbortSignal): AsyncGenerator<NodeWatchEvent> {
    this.enter('watchNodes', resourceVersion);
    const queue: NodeEvent[] = translate(() => this.store.changesSince(resourceVersion));
    let wake: (() => void) | undefined;
    const unsubscribe = this.store.subscribe((event) => {
      queue.push(event);
      wake?.();
    });
    const stop = () => wake?.();
    signal.addEventListener('abort', stop);
    try {
      while (!signal.aborted) {
        const event = queue.shift();
        if (event) {
          yield { type: event.type, node: node(event.object) };
          continue;
        }
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
    } finally {
      unsubscribe();
      signal.removeEventListener('abort', stop);
    }
  }

  async patchNodeStatus(name: string, patch: string): Promise<KubeNode> {
    this.enter('patchNodeStatus', `${name} ${patch}`);
    return node(translate(() => this.store.patchNode(name, 'application/strategic-merge-patch+json', patch, 'status')));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  private enter(call: KubeCall, detail: string): void {
    this.calls.push(`${call} ${detail}`.trim());
    const error = this.fail(call, detail);
    if (error) throw error;
  }
}

function translate<T>(action: () => T): T {
  try {
    return action();
  } catch (error) {
    if (error instanceof ApiStatusError) throw new KubeApiError(error.code, `${error.reason}: ${error.message}`);
    throw error;
  }
}

function node(document: unknown): KubeNode {
  const decoded = decodeNode(document);
  if ('value' in decoded) return decoded.value;
  throw new KubeApiError(200, `not a Node: ${decoded.problem}`);
}
