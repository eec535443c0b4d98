/**
 * One registry request (etcd or the Kubernetes API), timed under its op and, when it fails, counted under the
 * class of its failure. Both registry clients wrap their calls in it, so the two families mean the same for
 * both. A request the caller aborted (its own shutdown or a superseded watch) is not a registry failure and is
 * not counted at all.
 */
import type { FlannelMetrics, RegistryErrorClass, RegistryKind, RegistryOp } from './flannel-metrics.js';

/** Runs `call`; with `metrics` absent it is a plain call. `classify` names the class of a thrown error. */
export async function timedRegistryRequest<T>(
  metrics: FlannelMetrics['registry'] | undefined, registry: RegistryKind, op: RegistryOp, call: () => Promise<T>,
  classify: (error: unknown) => RegistryErrorClass, signal?: AbortSignal,
): Promise<T> {
  if (!metrics) return call();
  const started = performance.now();
  try {
    const result = await call();
    metrics.request(registry, op, (performance.now() - started) / 1000);
    return result;
  } catch (error) {
    if (!signal?.aborted) metrics.request(registry, op, (performance.now() - started) / 1000, classify(error));
    throw error;
  }
}
