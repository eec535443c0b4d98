/**
 * Kernel change notifications for the reconciler: a netlink socket joined to the link, neighbour, address and
 * route groups, read on libuv's thread pool (no worker isolate: that cost ~10 MB of RSS on every node), decoded
 * on the main thread into KernelEvents carrying the objects that changed, in the kernel's order. What the
 * reconciler's own socket caused is left out where the kernel says so (nlmsg_pid = that socket's port id).
 *
 * The event loop is busy while the reconciler writes a large batch and no read is in flight then; the socket's
 * receive buffer (32 MB) holds what arrives meanwhile, our own writes' echoes included. Should it overflow
 * (ENOBUFS: events were lost), an `overflow` event tells the owner to re-read everything. `stop()` resolves
 * once the socket is closed (within one receive timeout).
 */
import type { KernelEvent, KernelEventSource } from '../../dataplane/kernel.js';
import { FlannelError } from '../../support/errors.js';
import * as C from './constants.js';
import { NetlinkSocket } from './netlink-socket.js';
import { decodeKernelEvents } from './notifications.js';

const GROUPS = C.RTMGRP_LINK | C.RTMGRP_NEIGH | C.RTMGRP_IPV4_IFADDR | C.RTMGRP_IPV6_IFADDR | C.RTMGRP_IPV4_ROUTE | C.RTMGRP_IPV6_ROUTE;
/** How long a read blocks before the loop looks at `stop()` again (the idle cost: a few wake-ups a second). */
const RECEIVE_TIMEOUT_MS = 250;

export async function startKernelWatcher(options: {
  netnsPath?: string;
  /** Leave out the notifications of this socket's own writes (NetlinkKernel.portId). */
  ignorePortId?: number;
  onEvents: (events: KernelEvent[]) => void;
  onError: (error: Error) => void;
}): Promise<KernelEventSource> {
  const socket = NetlinkSocket.open({
    groups: GROUPS, receiveTimeoutMs: RECEIVE_TIMEOUT_MS, receiveBufferBytes: 32 << 20, ...(options.netnsPath ? { netnsPath: options.netnsPath } : {}),
  });
  const ignore = options.ignorePortId ?? 0;
  let stopping = false;
  const loop = (async () => {
    try {
      while (!stopping) {
        let messages;
        try {
          messages = await socket.readAsync();
        } catch (error) {
          if (error instanceof FlannelError && error.code === 'ETIMEDOUT') continue;
          if (!(error instanceof FlannelError && error.code === 'ENOBUFS')) throw error;
          options.onEvents([{ kind: 'overflow' }]);
          continue;
        }
        const events = decodeKernelEvents(messages, ignore);
        if (events.length > 0 && !stopping) options.onEvents(events);
      }
    } catch (error) {
      options.onError(error instanceof Error ? error : new Error(String(error)));
    } finally {
      socket.close();
    }
  })();
  return {
    async stop() {
      stopping = true;
      await loop;
    },
  };
}
