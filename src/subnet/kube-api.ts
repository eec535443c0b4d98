/**
 * The Kubernetes API port: the handful of calls flannel makes (reference §4), over Node objects reduced to what
 * flannel reads. The adapter (src/adapters/kube/kube-client.ts) implements it over HTTP; KubeSubnetManager
 * depends only on this file.
 *
 * Errors are FlannelError with code `KUBE_<reason>` and the HTTP status in `status` (0 when no response came):
 * KUBE_GONE (410: the resourceVersion was compacted; re-list), KUBE_NOT_FOUND, KUBE_UNAUTHORIZED,
 * KUBE_FORBIDDEN, KUBE_UNREACHABLE (no answer), KUBE_API (anything else). All are retryable except a
 * malformed request (400, 415, 422), which retrying cannot fix.
 */
import { FlannelError } from '../support/errors.js';
import type { MalformedEntry } from './registry.js';

/** A Node as flannel sees it. Annotation values are strings; anything else in the API object is dropped. */
export interface KubeNode {
  readonly name: string;
  readonly resourceVersion: string;
  readonly annotations: Readonly<Record<string, string>>;
  /** `spec.podCIDR` ("" when unset). */
  readonly podCIDR: string;
  /** `spec.podCIDRs` ([] when unset). */
  readonly podCIDRs: readonly string[];
}

export interface NodeList {
  readonly resourceVersion: string;
  readonly nodes: readonly KubeNode[];
  /** Items that are not Node objects flannel can read (named by `node/<name>` where there is one). */
  readonly malformed: readonly MalformedEntry[];
}

/** One event of a watch stream, decoded. */
export type NodeWatchEvent =
  | { readonly type: 'ADDED' | 'MODIFIED' | 'DELETED'; readonly node: KubeNode }
  | { readonly type: 'BOOKMARK'; readonly resourceVersion: string }
  | { readonly type: 'ERROR'; readonly code: number; readonly reason: string; readonly message: string }
  | { readonly type: 'MALFORMED'; readonly entry: MalformedEntry };

export interface KubeApi {
  /** GET /api/v1/nodes/<name>; `resourceVersion: '0'` lets the server answer from its cache. */
  getNode(name: string, options?: { resourceVersion?: string; signal?: AbortSignal }): Promise<KubeNode>;
  /** GET /api/v1/namespaces/<ns>/pods/<name> → `spec.nodeName` ("" when unset). */
  getPodNodeName(namespace: string, name: string, signal?: AbortSignal): Promise<string>;
  /** LIST /api/v1/nodes (every page), with the list's resourceVersion. */
  listNodes(signal?: AbortSignal): Promise<NodeList>;
  /**
   * WATCH /api/v1/nodes from `resourceVersion` (bookmarks requested). Ends when the server closes the stream
   * (the caller resumes from the last resourceVersion it saw) or when `signal` aborts. A compacted
   * resourceVersion shows either as a thrown KUBE_GONE (HTTP 410) or as an ERROR event with code 410.
   */
  watchNodes(resourceVersion: string, signal: AbortSignal): AsyncIterable<NodeWatchEvent>;
  /** PATCH /api/v1/nodes/<name>/status with `application/strategic-merge-patch+json`. */
  patchNodeStatus(name: string, patch: string, signal?: AbortSignal): Promise<KubeNode>;
  close(): Promise<void>;
}

/** FlannelError for an API failure; `status` is the HTTP status (0: no response). */
export class KubeApiError extends FlannelError {
  constructor(
    readonly status: number,
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(kubeErrorCode(status), message, { ...options, retryable: ![400, 415, 422].includes(status) });
  }
}

export function kubeErrorCode(status: number): string {
  switch (status) {
    case 0: return 'KUBE_UNREACHABLE';
    case 401: return 'KUBE_UNAUTHORIZED';
    case 403: return 'KUBE_FORBIDDEN';
    case 404: return 'KUBE_NOT_FOUND';
    case 410: return 'KUBE_GONE';
    default: return 'KUBE_API';
  }
}

export function isKubeStatus(error: unknown, status: number): boolean {
  return error instanceof KubeApiError && error.status === status;
}
