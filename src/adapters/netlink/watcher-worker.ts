/**
 * Worker thread body of the kernel watcher: blocks on a netlink socket joined to the link, address and route
 * groups and tells the main thread, at most once per read, which kinds of change it saw. It reports our own
 * routes being deleted (route protocol 111), any link change, any address change, and receive-buffer overflow
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
  readonly link: boolean;
  readonly address: boolean;
  readonly overflow: boolean;
}

const data = workerData as WatcherWorkerData;
const stop = new Int32Array(data.stopFlag);
const groups = C.RTMGRP_LINK | C.RTMGRP_IPV4_IFADDR | C.RTMGRP_IPV6_IFADDR | C.RTMGRP_IPV4_ROUTE | C.RTMGRP_IPV6_ROUTE;
const socket = NetlinkSocket.open({
  groups, receiveTimeoutMs: 200, ...(data.netnsPath ? { netnsPath: data.netnsPath } : {}),
});
parentPort?.postMessage({ ready: true });
while (Atomics.load(stop, 0) === 0) {
  const report = { routeDeleted: false, link: false, address: false, overflow: false };
  try {
    for (const message of socket.read()) {
      if (message.type === C.RTM_DELROUTE && routeProtocolOf(message.payload) === data.ownRouteProtocol) report.routeDeleted = true;
      else if (message.type === C.RTM_NEWLINK || message.type === C.RTM_DELLINK) report.link = true;
      else if (message.type === C.RTM_NEWADDR || message.type === C.RTM_DELADDR) report.address = true;
    }
  } catch (error) {
    if (error instanceof FlannelError && error.code === 'ETIMEDOUT') continue;
    if (error instanceof FlannelError && error.code === 'ENOBUFS') report.overflow = true;
    else throw error;
  }
  if (report.routeDeleted || report.link || report.address || report.overflow) parentPort?.postMessage(report);
}
socket.close();
