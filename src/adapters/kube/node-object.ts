/**
 * Decoding API objects into what flannel reads: a Node (name, resourceVersion, string annotations, pod CIDRs)
 * and a watch event line. Whatever the server sends, the result is a value or a reason, never an exception
 * escaping to the caller: a hostile or broken server cannot crash flanneld.
 */
import type { KubeNode, NodeWatchEvent } from '../../subnet/kube-api.js';
import { isJsonObject } from '../../support/json-fields.js';

export type Decoded<T> = { readonly value: T } | { readonly problem: string; readonly name?: string };

export function decodeNode(document: unknown): Decoded<KubeNode> {
  if (!isJsonObject(document)) return { problem: 'not a JSON object' };
  const metadata = isJsonObject(document.metadata) ? document.metadata : {};
  const spec = isJsonObject(document.spec) ? document.spec : {};
  const name = metadata.name;
  if (typeof name !== 'string' || name === '') return { problem: 'node without metadata.name' };
  const resourceVersion = typeof metadata.resourceVersion === 'string' ? metadata.resourceVersion : '';
  const annotations: Record<string, string> = {};
  if (isJsonObject(metadata.annotations)) {
    for (const [key, value] of Object.entries(metadata.annotations)) if (typeof value === 'string') annotations[key] = value;
  }
  const podCIDR = typeof spec.podCIDR === 'string' ? spec.podCIDR : '';
  const podCIDRs = Array.isArray(spec.podCIDRs) ? spec.podCIDRs.filter((item): item is string => typeof item === 'string') : [];
  return { value: { name, resourceVersion, annotations, podCIDR, podCIDRs } };
}

/** One line of a watch stream (`{"type":…,"object":…}`). */
export function decodeWatchLine(line: string): NodeWatchEvent {
  let document: unknown;
  try {
    document = JSON.parse(line);
  } catch {
    return malformed(`watch event is not JSON: ${JSON.stringify(line.slice(0, 80))}`);
  }
  if (!isJsonObject(document) || typeof document.type !== 'string') return malformed(`watch event without a type: ${JSON.stringify(line.slice(0, 80))}`);
  const object = isJsonObject(document.object) ? document.object : {};
  switch (document.type) {
    case 'ADDED':
    case 'MODIFIED':
    case 'DELETED': {
      const node = decodeNode(object);
      if ('value' in node) return { type: document.type, node: node.value };
      const name = isJsonObject(object.metadata) && typeof object.metadata.name === 'string' ? object.metadata.name : undefined;
      return malformed(`${document.type} event: ${node.problem}`, name);
    }
    case 'BOOKMARK': {
      const metadata = isJsonObject(object.metadata) ? object.metadata : {};
      if (typeof metadata.resourceVersion !== 'string') return malformed('BOOKMARK without metadata.resourceVersion');
      return { type: 'BOOKMARK', resourceVersion: metadata.resourceVersion };
    }
    case 'ERROR': {
      // The object is a metav1.Status.
      const code = typeof object.code === 'number' ? object.code : 500;
      return { type: 'ERROR', code, reason: typeof object.reason === 'string' ? object.reason : '', message: typeof object.message === 'string' ? object.message : '' };
    }
    default:
      return malformed(`unknown watch event type ${JSON.stringify(document.type)}`);
  }
}

function malformed(reason: string, name?: string): NodeWatchEvent {
  return { type: 'MALFORMED', entry: { key: name === undefined ? 'node watch' : `node/${name}`, reason } };
}
