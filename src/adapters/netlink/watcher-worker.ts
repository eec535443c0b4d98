/**
 * Worker thread body of the kernel watcher: blocks on a netlink socket joined to the link, address and route
 * groups and tells the main thread, at most once per read, which kinds of change it saw. It reports our own
 * routes being deleted (route protocol 111), the devices on which neighbour/FDB entries were deleted (the
 * kernel reports a deleted permanent entry as FAILED, so the owner filters by device), any link change, any
 * address change, and receive-buffer overflow
 * (ENOBUFS: events were lost, so the owner must re-read everything). A shared flag stops it within one
 * receive timeout.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { FlannelError } from '../../support/errors.js';
import * as C from './constants.js';
import { routeProtocolOf } from './messages.js';
import { NetlinkSocket } from './netlink-socket.js';

export interface WatcherWorkerData {
  readonly netnsPath?: string;
  readonly ownRouteProtocol: number;
  readonly stopFlag: SharedArrayBuffer;
}

export interface WatcherReport {
  readonly routeDeleted: boolean;
  /** Indexes of devices that lost a neighbour or FDB entry. */
  readonly neighbourLinks: readonly number[];
  readonly link: boolean;
  readonly address: boolean;
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
  const report = { routeDeleted: false, neighbourLinks: [] as number[], link: false, address: false, overflow: false };
  const neighbourLinks = new Set<number>();
  try {
    for (const message of socket.read()) {
      if (message.type === C.RTM_DELROUTE && routeProtocolOf(message.payload) === data.ownRouteProtocol) report.routeDeleted = true;
      else if (message.type === C.RTM_DELNEIGH && message.payload.length >= 8) neighbourLinks.add(message.payload.readInt32LE(4));
      else if (message.type === C.RTM_NEWLINK || message.type === C.RTM_DELLINK) report.link = true;
      else if (message.type === C.RTM_NEWADDR || message.type === C.RTM_DELADDR) report.address = true;
    }
  } catch (error) {
    if (error instanceof FlannelError && error.code === 'ETIMEDOUT') continue;
    if (error instanceof FlannelError && error.code === 'ENOBUFS') report.overflow = true;
    else throw error;
  }
  report.neighbourLinks = [...neighbourLinks];
  if (report.routeDeleted || report.link || report.address || report.overflow || neighbourLinks.size > 0) parentPort?.postMessage(report);
}
socket.close();
