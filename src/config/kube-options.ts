/**
 * Kubernetes-mode settings: the `--kube-*`, `--kubeconfig-file`, `--net-config-path` and
 * `--set-node-network-unavailable` flags (already parsed by daemon-options.ts, with their FLANNELD_* variables)
 * and the environment variables upstream reads outside the flag set (reference §1.3): NODE_NAME, POD_NAME,
 * POD_NAMESPACE, EVENT_QUEUE_DEPTH, CONT_WHEN_CACHE_NOT_READY. Pure: values and env in, options or a
 * FlannelError with upstream's text out.
 */
import { FlannelError } from '../support/errors.js';

export const DEFAULT_EVENT_QUEUE_DEPTH = 5000;

export interface KubeEnvOptions {
  /** NODE_NAME ("" when unset: the node is found through the pod). */
  readonly nodeName: string;
  readonly podName: string;
  readonly podNamespace: string;
  /** EVENT_QUEUE_DEPTH: how many node events are read ahead of the daemon (default 5000; ≤ 0 keeps it). */
  readonly eventQueueDepth: number;
  /**
   * CONT_WHEN_CACHE_NOT_READY == "true". Upstream waits up to 10 min for its node cache and, with this set,
   * carries on after a timeout. flannel-ts has no such wait (it lists, then watches, retrying), so the value is
   * accepted and has nothing to change.
   */
  readonly continueWhenCacheNotReady: boolean;
}

export interface KubeOptions extends KubeEnvOptions {
  readonly apiUrl: string;
  readonly kubeconfigFile: string;
  readonly annotationPrefix: string;
  readonly netConfigPath: string;
  readonly setNodeNetworkUnavailable: boolean;
}

/** Throws FlannelError('BAD_ENV') for a malformed EVENT_QUEUE_DEPTH, in upstream's words. */
export function kubeEnvOptions(env: Readonly<Record<string, string | undefined>>): KubeEnvOptions {
  let eventQueueDepth = DEFAULT_EVENT_QUEUE_DEPTH;
  const depthText = env.EVENT_QUEUE_DEPTH ?? '';
  if (depthText !== '') {
    const depth = parseGoAtoi(depthText);
    if (typeof depth === 'string') {
      throw new FlannelError('BAD_ENV', `env EVENT_QUEUE_DEPTH=${depthText} format error: strconv.Atoi: parsing ${JSON.stringify(depthText)}: ${depth}`);
    }
    if (depth > 0) eventQueueDepth = depth;
  }
  return {
    nodeName: env.NODE_NAME ?? '',
    podName: env.POD_NAME ?? '',
    podNamespace: env.POD_NAMESPACE ?? '',
    eventQueueDepth,
    continueWhenCacheNotReady: env.CONT_WHEN_CACHE_NOT_READY === 'true',
  };
}

/** All Kubernetes-mode options from the parsed flag values (daemon-options' FlagValues) and the environment. */
export function kubeOptions(values: Readonly<Record<string, unknown>>, env: Readonly<Record<string, string | undefined>>): KubeOptions {
  const text = (name: string) => (typeof values[name] === 'string' ? (values[name] as string) : '');
  return {
    ...kubeEnvOptions(env),
    apiUrl: text('kube-api-url'),
    kubeconfigFile: text('kubeconfig-file'),
    annotationPrefix: text('kube-annotation-prefix'),
    netConfigPath: text('net-config-path'),
    setNodeNetworkUnavailable: values['set-node-network-unavailable'] !== false,
  };
}

/** Go's strconv.Atoi on a 64-bit platform: the value, or the error's reason ("invalid syntax", "value out of range"). */
export function parseGoAtoi(text: string): number | string {
  if (!/^[+-]?\d+$/.test(text)) return 'invalid syntax';
  const value = BigInt(text);
  if (value > 9223372036854775807n || value < -9223372036854775808n) return 'value out of range';
  // Depths beyond 2^53 are meaningless; clamp rather than lose precision silently.
  return Number(value > BigInt(Number.MAX_SAFE_INTEGER) ? BigInt(Number.MAX_SAFE_INTEGER) : value);
}
