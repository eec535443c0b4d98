/**
 * Which Node this flanneld runs on (reference §1.3): NODE_NAME, else the `spec.nodeName` of the pod named by
 * POD_NAMESPACE/POD_NAME (the DaemonSet's downward API). Upstream's error texts; a failed pod lookup is
 * retryable when its cause is.
 */
import type { KubeEnvOptions } from '../config/kube-options.js';
import { FlannelError, errorMessage } from '../support/errors.js';
import type { KubeApi } from './kube-api.js';
import { type RetryPolicy, retryKubeCall } from './kube-retry.js';

export async function resolveNodeName(env: KubeEnvOptions, api: Pick<KubeApi, 'getPodNodeName'>, retry: RetryPolicy): Promise<string> {
  if (env.nodeName !== '') return env.nodeName;
  const { podName, podNamespace } = env;
  if (podName === '' || podNamespace === '') {
    throw new FlannelError('NODE_NAME_UNKNOWN', 'env variables POD_NAME and POD_NAMESPACE must be set');
  }
  let nodeName: string;
  try {
    nodeName = await retryKubeCall(() => api.getPodNodeName(podNamespace, podName, retry.signal), retry, 'KUBE_POD_LOOKUP',
      `cannot read pod ${podNamespace}/${podName}`);
  } catch (error) {
    // Retryable when the cause is (API server unreachable, credentials refused): the caller decides to wait.
    const retryable = error instanceof FlannelError && error.retryable;
    throw new FlannelError('NODE_NAME_UNKNOWN', `error retrieving pod spec for '${podNamespace}/${podName}': ${errorMessage(error)}`, { cause: error, retryable });
  }
  if (nodeName === '') throw new FlannelError('NODE_NAME_UNKNOWN', `node name not present in pod spec '${podNamespace}/${podName}'`);
  return nodeName;
}
