/**
 * flanneld's Kubernetes mode (`--kube-subnet-mgr`) put together: the settings (flags with their FLANNELD_*
 * variables, and NODE_NAME, POD_NAME, POD_NAMESPACE, EVENT_QUEUE_DEPTH from the environment), the annotation
 * names, where the API server is and how to authenticate (in-cluster, kubeconfig, --kube-api-url), our client,
 * the node we run on and the KubeSubnetManager over them.
 *
 * Bad settings are fatal at start with upstream's texts (a malformed EVENT_QUEUE_DEPTH or annotation prefix,
 * an unusable kubeconfig, no in-cluster environment). Looking our node up through our pod needs the API server:
 * while it cannot be reached or refuses our credentials, that is logged and retried with backoff (upstream
 * exits; a pod restart loop waits longer and says less).
 */
import { readFile } from 'node:fs/promises';
import { KubeClient } from '../adapters/kube/kube-client.js';
import { resolveKubeConnection } from '../adapters/kube/kube-connection.js';
import { kubeOptions } from '../config/kube-options.js';
import type { FlannelMetrics } from '../metrics/flannel-metrics.js';
import { kubeAnnotations } from '../subnet/kube-annotations.js';
import { resolveNodeName } from '../subnet/kube-node-name.js';
import { UPSTREAM_RETRY } from '../subnet/kube-retry.js';
import { KubeSubnetManager } from '../subnet/kube-subnet-manager.js';
import { systemClock } from '../support/clock.js';
import type { Logger } from '../support/logger.js';
import { retryWhileRetryable } from '../support/retry.js';

export interface KubeModeInputs {
  /** The parsed flag values (daemon-options' FlagValues). */
  readonly values: Readonly<Record<string, unknown>>;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly logger: Logger;
  readonly signal: AbortSignal;
  readonly readFileSync: (path: string) => Buffer;
  /** Times and classifies every API call (flannel_registry_* families). */
  readonly metrics?: FlannelMetrics['registry'];
}

/** The subnet manager, or undefined when `signal` aborts while looking for our node; throws FlannelError when fatal. */
export async function createKubeSubnetManager(inputs: KubeModeInputs): Promise<KubeSubnetManager | undefined> {
  const { logger, signal } = inputs;
  const options = kubeOptions(inputs.values, inputs.env);
  const annotations = kubeAnnotations(options.annotationPrefix);
  const connection = await resolveKubeConnection({
    apiUrl: options.apiUrl, kubeconfigFile: options.kubeconfigFile, env: inputs.env, readFile: inputs.readFileSync,
  });
  for (const note of connection.notes) logger.warn({ server: connection.server }, note);
  logger.info({ server: connection.server, source: connection.source }, 'Kubernetes API server');
  const api = new KubeClient({ connection, readFile: inputs.readFileSync, ...(inputs.metrics ? { metrics: inputs.metrics } : {}) });
  const nodeName = await retryWhileRetryable(
    () => resolveNodeName(options, api, { ...UPSTREAM_RETRY, now: systemClock.now, signal }),
    { signal, clock: systemClock, onRetry: (error, retryInMs) => logger.warn({ err: error.message, retryInMs }, 'cannot find the node we run on; retrying') },
  ).catch(async (error: unknown) => {
    await api.close();
    throw error;
  });
  if (nodeName === undefined) {
    await api.close();
    return undefined;
  }
  return new KubeSubnetManager({
    api, nodeName, annotations, logger: logger.child({ component: 'kube' }),
    readNetConfig: () => readFile(options.netConfigPath, 'utf8'),
    setNodeNetworkUnavailable: options.setNodeNetworkUnavailable,
    eventQueueDepth: options.eventQueueDepth,
  });
}
