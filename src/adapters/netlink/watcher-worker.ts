/**
 * Worker thread body of the kernel watcher: blocks on a netlink socket joined to the link, neighbour, address
 * and route groups and hands the main thread, once per read, the raw notification frames (the main thread
 * decodes them into objects, see notifications.ts). It leaves out what the reconciler's own socket caused
 * where the kernel says so (nlmsg_pid = that socket's port id), so a sync of 15,000 entries does not echo
 * back, and reports receive-buffer overflow (ENOBUFS: events were lost, so the owner must re-read
 * everything). A shared flag stops it within one receive timeout.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { FlannelError } from '../../support/errors.js';
import { encodeMessage } from './codec.js';
import * as C from './constants.js';
import { NetlinkSocket } from './netlink-socket.js';
import { NOTIFICATION_TYPES } from './notifications.js';

export interface WatcherWorkerData {
  readonly netnsPath?: string;
  /** Notifications tagged with this port id (the reconciler's own writes) are left out; 0: none. */
  readonly ignorePortId: number;
  readonly stopFlag: SharedArrayBuffer;
}

export interface WatcherReport {
  /** Concatenated netlink frames, in the kernel's order. */
  readonly frames: Uint8Array;
  readonly overflow: boolean;
}

const data = workerData as WatcherWorkerData;
const stop = new Int32Array(data.stopFlag);
const groups = C.RTMGRP_LINK | C.RTMGRP_NEIGH | C.RTMGRP_IPV4_IFADDR | C.RTMGRP_IPV6_IFADDR | C.RTMGRP_IPV4_ROUTE | C.RTMGRP_IPV6_ROUTE;
const socket = NetlinkSocket.open({
  groups, receiveTimeoutMs: 200, ...(data.netnsPath ? { netnsPath: data.netnsPath } : {}),
});
parentPort?.postMessage({ ready: true });
while (Atomics.load(stop, 0) === 0) {
  const frames: Buffer[] = [];
  let overflow = false;
  try {
    for (const message of socket.read()) {
      if (!NOTIFICATION_TYPES.has(message.type) || (data.ignorePortId !== 0 && message.pid === data.ignorePortId)) continue;
      frames.push(encodeMessage(message.type, message.flags, message.seq, message.payload));
    }
  } catch (error) {
    if (error instanceof FlannelError && error.code === 'ETIMEDOUT') continue;
    if (error instanceof FlannelError && error.code === 'ENOBUFS') overflow = true;
    else throw error;
  }
  if (frames.length === 0 && !overflow) continue;
  const report: WatcherReport = { frames: Uint8Array.from(Buffer.concat(frames)), overflow };
  parentPort?.postMessage(report, [report.frames.buffer as ArrayBuffer]);
}
socket.close();
