/**
 * Overlay probes: one packet per peer that must cross the overlay both ways, answered by the peer's kernel
 * (no agent on the peer), used by `flannelctl doctor`, `flannelctl trace` and flanneld's datapath health.
 *
 * - vxlan: a VXLAN frame built in userspace, sent from our public address to the peer's public IP on the overlay
 *   port: VNI, inner Ethernet to the peer's VTEP MAC (from its lease), inner ICMP echo from our VTEP address to
 *   the peer's. The peer's VXLAN device decapsulates it, its kernel answers the echo, and the answer comes back
 *   through the peer's own route/neighbour/FDB for us, encapsulated to our UDP 8472, where our VXLAN device
 *   decapsulates it and our kernel delivers it to a raw ICMP socket. It does not use our route, neighbour or FDB
 *   entry for the peer, so it tells "the peer (or the path to it) does not answer on the overlay port" apart from
 *   "our entries for the peer are missing" (verified by hand in two namespaces: answered with our FDB entry
 *   deleted; unanswered with UDP 8472 dropped on either host or with a wrong VTEP MAC).
 * - udp: the same idea without VXLAN: the inner IPv4 echo itself is the UDP payload to the peer's udp port
 *   (upstream's wire format); the peer's forwarder writes it to its TUN, its kernel answers through its
 *   forwarder to ours.
 * - routed (wireguard, host-gw): an ICMP echo the kernel routes through the overlay like any packet (WireGuard
 *   cannot be built in userspace without the keys), to the peer's address on its overlay device.
 * Pure: targets are data; the prober adapter sends them (src/adapters/probe).
 */
import type { Lease } from '../../lease/lease.js';
import type { IpAddress } from '../../net/ip.js';
import type { MacAddress } from '../../net/mac.js';
import { vtepMacOf } from '../lease-backend-data.js';

export type ProbeKind = 'vxlan' | 'udp' | 'routed';

export interface ProbeTarget {
  /** The peer's name in reports: its subnet. */
  readonly peer: string;
  readonly kind: ProbeKind;
  /** vxlan/udp: the peer's public IP (outer destination); routed: the inner destination. */
  readonly underlayDestination: IpAddress;
  /** vxlan/udp: the overlay UDP port. */
  readonly port?: number;
  readonly vni?: number;
  /** vxlan/udp: our overlay address (the echo's source, where the answer comes back to). */
  readonly innerSource?: IpAddress;
  /** The address the echo asks (the peer's overlay address). */
  readonly innerDestination: IpAddress;
  readonly sourceMac?: MacAddress;
  readonly destinationMac?: MacAddress;
  /** vxlan/udp: our public address to send from (the peer's ingress filter admits only peers' addresses). */
  readonly bindAddress?: IpAddress;
}

export interface ProbeOutcome {
  readonly peer: string;
  readonly result: 'ok' | 'timeout' | 'error';
  readonly rttMs?: number;
  readonly error?: string;
}

/** Sends probes and waits for the answers; never throws for one peer's failure (its outcome says it). */
export interface OverlayProber {
  probe(targets: readonly ProbeTarget[], timeoutMs: number, signal?: AbortSignal): Promise<ProbeOutcome[]>;
}

/** What a host needs to probe its peers: its own lease and the overlay's parameters. */
export interface ProbeContext {
  readonly backendType: string;
  readonly own: Lease;
  /** vxlan: our VTEP MAC (flannel.<VNI>'s MAC) and VNI; udp/vxlan: the overlay port. */
  readonly ownVtepMac?: MacAddress;
  readonly vni?: number;
  readonly port?: number;
}

/**
 * The IPv4 probe for one peer, or a reason why there is none (no IPv4 lease, no VTEP MAC in the lease…).
 * IPv6-only peers are not probed yet.
 */
export function probeTargetFor(context: ProbeContext, peer: Lease): ProbeTarget | { readonly skip: string } {
  const name = peer.subnet.toString();
  const ownAddress = context.own.subnet.ip;
  const peerAddress = peer.subnet.ip;
  if (peer.attrs.publicIP.isUnspecified()) return { skip: `${name}: no IPv4 public address (IPv6-only peers are not probed)` };
  switch (context.backendType) {
    case 'vxlan': {
      const mac = vtepMacOf(peer.attrs.backendData);
      if (!mac) return { skip: `${name}: lease has no VtepMAC` };
      if (!context.ownVtepMac) return { skip: 'our VXLAN device is missing (no VTEP MAC to send from)' };
      return {
        peer: name, kind: 'vxlan', underlayDestination: peer.attrs.publicIP, port: context.port ?? 8472, vni: context.vni ?? 1,
        innerSource: ownAddress, innerDestination: peerAddress, sourceMac: context.ownVtepMac, destinationMac: mac, bindAddress: context.own.attrs.publicIP,
      };
    }
    case 'udp':
    case '':
      return {
        peer: name, kind: 'udp', underlayDestination: peer.attrs.publicIP, port: context.port ?? 8285,
        innerSource: ownAddress, innerDestination: peerAddress, bindAddress: context.own.attrs.publicIP,
      };
    case 'wireguard':
      return { peer: name, kind: 'routed', underlayDestination: peerAddress, innerDestination: peerAddress };
    case 'host-gw':
      // host-gw peers own no address of their subnet except the bridge's gateway (.1), there once pods run.
      return { peer: name, kind: 'routed', underlayDestination: peerAddress.add(1n), innerDestination: peerAddress.add(1n) };
    default:
      return { skip: `backend ${context.backendType} has no overlay probe` };
  }
}
