/**
 * Kernel notifications decoded into KernelEvents (the objects that changed). Pure; byte-tested without root.
 * Route messages of types other than unicast and blackhole (local, broadcast…) and messages of other families
 * are not events. A message that does not decode becomes an `overflow` event: the reconciler then re-reads
 * everything rather than trust a view that missed something.
 */
import type { KernelEvent } from '../../dataplane/kernel.js';
import { type NetlinkMessage, decodeMessages } from './codec.js';
import * as C from './constants.js';
import { decodeAddress, decodeLink, decodeNeighbour, decodeRoute } from './messages.js';

/** The notification types the watcher forwards. */
export const NOTIFICATION_TYPES: ReadonlySet<number> = new Set([
  C.RTM_NEWLINK, C.RTM_DELLINK, C.RTM_NEWADDR, C.RTM_DELADDR, C.RTM_NEWROUTE, C.RTM_DELROUTE, C.RTM_NEWNEIGH, C.RTM_DELNEIGH,
]);

/**
 * The events in a batch of messages read from the notification socket: other message types and, when
 * `ignorePortId` is set, the echoes of our own writes (sent from that netlink port) are skipped.
 */
export function decodeKernelEvents(messages: Iterable<NetlinkMessage>, ignorePortId = 0): KernelEvent[] {
  const events: KernelEvent[] = [];
  for (const message of messages) {
    if (!NOTIFICATION_TYPES.has(message.type) || (ignorePortId !== 0 && message.pid === ignorePortId)) continue;
    try {
      const event = decodeKernelEvent(message);
      if (event) events.push(event);
    } catch {
      // Undecodable: what it changed is unknown, so the owner re-reads everything.
      events.push({ kind: 'overflow' });
    }
  }
  return events;
}

export function decodeKernelEvent(message: NetlinkMessage): KernelEvent | undefined {
  switch (message.type) {
    case C.RTM_NEWROUTE:
    case C.RTM_DELROUTE: {
      const route = decodeRoute(message.payload);
      return route && { kind: 'route', deleted: message.type === C.RTM_DELROUTE, route };
    }
    case C.RTM_NEWNEIGH:
    case C.RTM_DELNEIGH: {
      const entry = decodeNeighbour(message.payload);
      return entry && { kind: 'neighbour', deleted: message.type === C.RTM_DELNEIGH, entry };
    }
    case C.RTM_NEWLINK:
    case C.RTM_DELLINK:
      return { kind: 'link', deleted: message.type === C.RTM_DELLINK, link: decodeLink(message.payload) };
    case C.RTM_NEWADDR:
    case C.RTM_DELADDR: {
      const address = decodeAddress(message.payload);
      return address && { kind: 'address', deleted: message.type === C.RTM_DELADDR, address };
    }
    default:
      return undefined;
  }
}
