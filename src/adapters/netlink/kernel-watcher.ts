/**
 * Kernel change notifications for the reconciler, read in a worker thread so that a busy event loop never
 * lets the socket's receive buffer overflow unnoticed (8 MB buffer; on ENOBUFS an `overflow` event tells the
 * owner to re-read everything). Frames are decoded here, on the main thread, into KernelEvents carrying the
 * objects that changed, in the kernel's order. `stop()` resolves once the worker has closed its socket.
 */
import { Worker } from 'node:worker_threads';
import type { KernelEvent, KernelEventSource } from '../../dataplane/kernel.js';
import { decodeKernelEvents } from './notifications.js';
import type { WatcherReport, WatcherWorkerData } from './watcher-worker.js';

export async function startKernelWatcher(options: {
  netnsPath?: string;
  /** Leave out the notifications of this socket's own writes (NetlinkKernel.portId). */
  ignorePortId?: number;
  onEvents: (events: KernelEvent[]) => void;
  onError: (error: Error) => void;
}): Promise<KernelEventSource> {
  const stopFlag = new SharedArrayBuffer(4);
  const workerData: WatcherWorkerData = {
    stopFlag, ignorePortId: options.ignorePortId ?? 0, ...(options.netnsPath ? { netnsPath: options.netnsPath } : {}),
  };
  const worker = new Worker(new URL('./watcher-worker.js', import.meta.url), { workerData });
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    worker.once('error', reject);
    worker.once('message', () => resolve());
  });
  worker.on('message', (report: WatcherReport) => {
    const events = decodeKernelEvents(Buffer.from(report.frames.buffer, report.frames.byteOffset, report.frames.byteLength));
    if (report.overflow) events.push({ kind: 'overflow' });
    if (events.length > 0) options.onEvents(events);
  });
  worker.on('error', options.onError);
  return {
    async stop() {
      Atomics.store(new Int32Array(stopFlag), 0, 1);
      await exited;
    },
  };
}
