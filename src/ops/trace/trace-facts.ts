/**
 * What `flannelctl trace` reads before judging a path, as plain data: the lease table (from flanneld's status
 * socket), the kernel's lists and its answers to route lookups, the firewall's verdict points, WireGuard peers
 * when readable, and the probe's outcome. gather-trace-facts.ts fills it from ports; trace-evaluator.ts judges it
 * without I/O, so every broken hop is a table-test on hand-made facts.
 */
import type { Address, Link, Neighbour } from '../../dataplane/kernel-objects.js';
import type { Lease } from '../../lease/lease.js';
import type { Cidr, IpAddress } from '../../net/ip.js';
import type { FirewallView } from '../firewall-view.js';
import type { ProbeOutcome } from '../probe/probe-target.js';
import type { LeaseTable } from '../status-document.js';
import type { RouteAnswer } from './route-resolver.js';

/** A WireGuard peer as the device reports it, reduced to what a trace compares. */
export interface TraceWireguardPeer {
  readonly device: string;
  readonly publicKey: string;
  /** `ip:port` or `[ip]:port`. */
  readonly endpoint?: string;
  readonly allowedIps: readonly Cidr[];
  readonly lastHandshakeEpochMs?: number;
}

export interface TraceFacts {
  readonly destination: IpAddress;
  readonly source?: IpAddress;
  readonly nowMs: number;
  /** The backend type of this host ('' for udp, as its lease carries no type). */
  readonly backendType: string;
  /** The flannel networks (FLANNEL_NETWORK / FLANNEL_IPV6_NETWORK). */
  readonly networks: readonly Cidr[];
  readonly leases: LeaseTable;
  readonly links: readonly Link[];
  readonly addresses: readonly Address[];
  readonly neighbours: readonly Neighbour[];
  /** The kernel's lookup of the destination (from the source, entering on the source's device, when given). */
  readonly route: RouteAnswer;
  /**
   * When the forwarded lookup (with an input device) was refused: the same lookup without it. A refusal there
   * and an answer here means the kernel drops the packet on input (reverse-path filter, martian source).
   */
  readonly routeWithoutInput?: RouteAnswer;
  /** The kernel's lookup of the owning peer's public IP; absent when no peer owns the destination. */
  readonly underlay?: RouteAnswer;
  /** Absent when the firewall could not be read. */
  readonly firewall?: FirewallView;
  /** The overlay UDP port of this backend (vxlan 8472 unless configured, udp 8285). */
  readonly overlayPort?: number;
  /** Absent when WireGuard's peers could not be read here. */
  readonly wireguardPeers?: readonly TraceWireguardPeer[];
  /** The overlay probe to the owning peer; absent when not run. */
  readonly probe?: ProbeOutcome;
}

export type HopStatus = 'ok' | 'broken' | 'warn' | 'info';

export interface TraceHop {
  /** Short name of the step: lease, route, neighbour, fdb, on-link, tun, wireguard-peer, underlay, mtu, forward, input, probe. */
  readonly step: string;
  readonly status: HopStatus;
  /** What was found, as `ip`/`bridge` would show it, and for a broken hop why the packet stops there. */
  readonly detail: string;
}

export interface TraceReport {
  readonly destination: string;
  readonly source?: string;
  /** The lease that owns the destination, when one does. */
  readonly owner?: { readonly key: string; readonly publicIP: string; readonly state: 'own' | 'admitted' | 'rejected' };
  readonly hops: readonly TraceHop[];
  /** True when no hop is broken. */
  readonly ok: boolean;
}

/** The lease owning `address`, with its state (our own first, then admitted, then rejected peers). */
export function leaseOwning(table: LeaseTable, address: IpAddress): { lease: Lease; state: 'own' | 'admitted' | 'rejected'; reason?: string } | undefined {
  const covers = (lease: Lease) => lease.subnet.contains(address) || (lease.ipv6Subnet?.contains(address) ?? false);
  if (table.own && covers(table.own)) return { lease: table.own, state: 'own' };
  const admitted = table.admitted.find(covers);
  if (admitted) return { lease: admitted, state: 'admitted' };
  const rejected = table.rejected.find((entry) => covers(entry.lease));
  return rejected ? { lease: rejected.lease, state: 'rejected', reason: rejected.reason } : undefined;
}
