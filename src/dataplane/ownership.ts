/**
 * What a reconciler may delete: the kernel objects that are *ours*. Pure.
 *
 * One host may run several flanneld instances, one per network (upstream's functional tests run a vxlan and a
 * host-gw instance with different --etcd-prefix and Network on one host). Each must leave the other's state
 * alone, so "ours" is narrower than "made by flannel-ts":
 * - a route is ours when it carries route protocol FLANNEL_ROUTE_PROTOCOL (111) and its destination lies
 *   inside one of our Networks (per-peer routes, the whole-Network route of udp/wireguard, our own
 *   --ip-blackhole-route all do). So is a route upstream flanneld made on one of our devices — protocol boot
 *   (the kernel's record of a route added without a protocol, as upstream's netlink library adds them), main
 *   table, unicast, inside our Networks — which is how a host taken over from upstream flanneld loses the
 *   routes to peers that left while nothing ran, while the ones the leases still want are replaced in place
 *   (same key) by ours. The kernel's own routes on our devices (protocol kernel) are never ours;
 * - a device is ours when the plan names it, or when it has a flannel-ts device name and kind
 *   (isFlannelDevice) and either a plan of this process named it before or it carries an address inside one
 *   of our Networks (a device we made before a VNI or backend change carries our subnet's address; another
 *   instance's device carries its own network's). A pass decides which devices go before it removes any
 *   address, and leaves their addresses and entries to go with them;
 * - an address is ours when it is on one of our devices and not IPv6 link-local (the kernel manages those);
 * - a neighbour or FDB entry is ours when it is permanent and on one of our devices.
 * Anything else is never deleted; a desired object whose key a foreign object holds replaces it.
 *
 * Not covered: state of a Network this instance no longer has (its config changed): another instance may own
 * such a network now, so only `flannelctl uninstall` (EVERYTHING) removes it.
 *
 * EVERYTHING is the scope of `flannelctl uninstall`: every protocol-111 route and every flannel-ts device,
 * whatever network it serves.
 */
import type { Cidr } from '../net/ip.js';
import { isFlannelDevice } from './devices.js';
import { FLANNEL_ROUTE_PROTOCOL, type Link, MAIN_TABLE, type Route } from './kernel-objects.js';

/** The protocol the kernel records for a route added without one (upstream flanneld's, and `ip route add`'s). */
export const RTPROT_BOOT = 3;

export interface Ownership {
  /** Every object flannel-ts could have made on this host, whatever its network (uninstall). */
  readonly everything: boolean;
  /** Our Networks (IPv4 Network and IPv6Network, as enabled). */
  readonly networks: readonly Cidr[];
}

export const EVERYTHING: Ownership = { everything: true, networks: [] };

/** The ownership of a flanneld serving these Networks. */
export function ownershipOf(networks: ReadonlyArray<Cidr | undefined>): Ownership {
  return { everything: false, networks: networks.filter((network): network is Cidr => network !== undefined) };
}

/**
 * A route of ours: protocol 111, or upstream flanneld's protocol boot on one of our devices (`onOurDevice`),
 * inside our Networks.
 */
export function ownsRoute(ownership: Ownership, route: Route, onOurDevice = false): boolean {
  const upstreams = onOurDevice && route.protocol === RTPROT_BOOT && route.table === MAIN_TABLE && route.type === 'unicast';
  if (route.protocol !== FLANNEL_ROUTE_PROTOCOL && !upstreams) return false;
  return ownership.everything || ownership.networks.some((network) => network.family === route.dst.family && network.containsCidr(route.dst));
}

/**
 * A device the plan does not name but that is ours to delete: a flannel-ts device name and kind, and either
 * `managedBefore` (a plan of this process named it) or an address inside our Networks (any such device under
 * EVERYTHING). `addresses` are the link's addresses.
 */
export function ownsUnwantedDevice(ownership: Ownership, link: Link, addresses: Iterable<Cidr>, managedBefore = false): boolean {
  if (!isFlannelDevice(link)) return false;
  if (ownership.everything || managedBefore) return true;
  for (const address of addresses) {
    if (ownership.networks.some((network) => network.family === address.family && network.contains(address.ip))) return true;
  }
  return false;
}
