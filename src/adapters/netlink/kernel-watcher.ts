/**
 * Kernel change notifications for the reconciler, read in a worker thread so that a busy event loop never
 * lets the socket's receive buffer overflow unnoticed (8 MB buffer; on ENOBUFS the owner re-reads everything).
 * `stop()` resolves once the worker has closed its socket.
 */
import { Worker } from 'node:worker_threads';
import { FLANNEL_ROUTE_PROTOCOL } from '../../dataplane/kernel-objects.js';
import type { WatcherReport, WatcherWorkerData } from './watcher-worker.js';

export type { WatcherReport };

export interface KernelWatcher {
  stop(): Promise<void>;
}

export async function startKernelWatcher(options: {
  netnsPath?: string;
  onReport: (report: WatcherReport) => void;
  onError: (error: Error) => void;
}): Promise<KernelWatcher> {
  const stopFlag = new SharedArrayBuffer(4);
  const workerData: WatcherWorkerData = {
    stopFlag, ownRouteProtocol: FLANNEL_ROUTE_PROTOCOL, ...(options.netnsPath ? { netnsPath: options.netnsPath } : {}),
  };
  const worker = new Worker(new URL('./watcher-worker.js', import.meta.url), { workerData });
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    worker.once('error', reject);
    worker.once('message', () => resolve());
  });
  worker.on('message', (report: WatcherReport) => options.onReport(report));
  worker.on('error', options.onError);
  return {
    async stop() {
      Atomics.store(new Int32Array(stopFlag), 0, 1);
      await exited;
    },
  };
}
