/**
 * Kernel change notifications for the reconciler: a netlink socket joined to the link, neighbour, address and
 * route groups, read on libuv's thread pool (no worker isolate: that cost ~10 MB of RSS on every node), decoded
 * on the main thread into KernelEvents carrying the objects that changed, in the kernel's order. What the
 * reconciler's own socket caused is left out where the kernel says so (nlmsg_pid = that socket's port id).
 *
 * The event loop is busy while the reconciler writes a large batch and no read is in flight then; the socket's
 * receive buffer (32 MB) holds what arrives meanwhile, our own writes' echoes included. Should it overflow
 * (ENOBUFS: events were lost), an `overflow` event tells the owner to re-read everything.
 *
 * An idle watcher costs nothing: the read blocks until the kernel sends something (it used to wake every 250 ms
 * to look at a stop flag — 4 thread-pool round trips a second on every node). `stop()` ends the blocked read
 * by sending the socket an NLMSG_NOOP from a throwaway socket in the same namespace, and resolves once the
 * socket is closed. Should that send fail, the receive timeout (60 s) ends the read; stop() does not wait
 * for it longer than a second.
 */
import type { KernelEvent, KernelEventSource } from '../../dataplane/kernel.js';
import { FlannelError } from '../../support/errors.js';
import { sleep } from '../../support/timing.js';
import * as C from './constants.js';
import { NetlinkSocket } from './netlink-socket.js';
import { decodeKernelEvents } from './notifications.js';

const GROUPS = C.RTMGRP_LINK | C.RTMGRP_NEIGH | C.RTMGRP_IPV4_IFADDR | C.RTMGRP_IPV6_IFADDR | C.RTMGRP_IPV4_ROUTE | C.RTMGRP_IPV6_ROUTE;
/** A safety net only: stop() wakes the read itself. */
const RECEIVE_TIMEOUT_MS = 60_000;
const STOP_WAIT_WITHOUT_WAKE_MS = 1000;

export async function startKernelWatcher(options: {
  netnsPath?: string;
  /** Leave out the notifications of this socket's own writes (NetlinkKernel.portId). */
  ignorePortId?: number;
  onEvents: (events: KernelEvent[]) => void;
  onError: (error: Error) => void;
}): Promise<KernelEventSource & { readonly reads: number }> {
  const socket = NetlinkSocket.open({
    groups: GROUPS, receiveTimeoutMs: RECEIVE_TIMEOUT_MS, receiveBufferBytes: 32 << 20, ...(options.netnsPath ? { netnsPath: options.netnsPath } : {}),
  });
  const ignore = options.ignorePortId ?? 0;
  let stopping = false;
  /** Reads completed, timeouts included (what an idle watcher should not do). */
  let reads = 0;
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
        } finally {
          reads++;
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
    get reads() {
      return reads;
    },
    async stop() {
      if (stopping) return loop;
      stopping = true;
      try {
        const waker = NetlinkSocket.open(options.netnsPath ? { netnsPath: options.netnsPath } : {});
        try {
          waker.sendNoopTo(socket.portId);
        } finally {
          waker.close();
        }
      } catch {
        // Without the wake-up the read ends at its timeout; do not hold the caller's shutdown for that.
        await Promise.race([loop, sleep(STOP_WAIT_WITHOUT_WAKE_MS)]);
        return;
      }
      await loop;
    },
  };
}
