/**
 * What the udp data path's owner (udp-datapath.ts) and its worker (datapath-worker.ts) exchange: the worker's
 * start data, control messages, reports, and the indexes of the shared flags. Kept apart from the worker body,
 * which starts running as soon as it is imported.
 */
import type { RouteChanges } from '../../backend/udp/peer-routes.js';

export interface DatapathWorkerData {
  /** Int32 [stop, control pending]. */
  readonly flags: SharedArrayBuffer;
  readonly counters: SharedArrayBuffer;
  readonly wakeFd: number;
  readonly tunName: string;
  readonly tunAddress: number;
  readonly bindAddress: number;
  readonly port: number;
  /** Packets per batch without offloads. */
  readonly batchSize: number;
  /** Read/receive buffer per packet without offloads: above the TUN MTU. */
  readonly packetBytes: number;
  /** TSO/coalescing on the TUN, GSO/GRO on the socket, where the kernel has them. */
  readonly offload: boolean;
  readonly socketBufferBytes: number;
  readonly routes: RouteChanges;
}

export type WorkerControl = { readonly type: 'routes'; readonly changes: RouteChanges };

export type WorkerReport =
  | { readonly type: 'ready' }
  | { readonly type: 'device'; readonly name: string; readonly index: number; readonly reopened: boolean }
  | { readonly type: 'device-error'; readonly code: string; readonly message: string }
  | { readonly type: 'failed'; readonly code: string; readonly message: string };

/** Set by the owner: the worker stops at its next batch. */
export const FLAG_STOP = 0;
/** Set by the owner after posting control messages: the worker pulls them between batches. */
export const FLAG_CONTROL = 1;
/** Int32 words of the shared flags. */
export const FLAG_WORDS = 2;
