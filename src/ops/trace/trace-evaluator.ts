/**
 * `flannelctl trace` judged, pure: the path of a packet to a destination, hop by hop as the seeds draw it
 * (pod → route → overlay device → neighbour → FDB → underlay → peer), each hop ok or broken with the reason.
 * Order: which lease owns the destination; the kernel's route lookup; the backend's own hops
 * (trace-backend-hops.ts); the underlay route to the peer and MTUs; the firewall's verdict points; the probe.
 * Hops after a broken one are still judged when their facts exist (an operator fixing one thing wants to know
 * the next), except where they would only repeat it.
 */
import type { Link } from '../../dataplane/kernel-objects.js';
import type { Lease } from '../../lease/lease.js';
import { forwardAllows } from '../firewall-view.js';
import { backendHops, describeAnswer, overheadBytes } from './trace-backend-hops.js';
import { type TraceFacts, type TraceHop, type TraceReport, leaseOwning } from './trace-facts.js';

export function evaluateTrace(facts: TraceFacts): TraceReport {
  const hops: TraceHop[] = [];
  const destination = facts.destination;
  const owner = leaseOwning(facts.leases, destination);
  const report = (extra: Partial<TraceReport> = {}): TraceReport => ({
    destination: destination.toString(),
    ...(facts.source ? { source: facts.source.toString() } : {}),
    ...(owner ? { owner: { key: owner.lease.subnet.toString(), publicIP: owner.lease.attrs.publicIP.toString(), state: owner.state } } : {}),
    hops, ok: !hops.some((hop) => hop.status === 'broken'), ...extra,
  });
  const network = facts.networks.find((candidate) => candidate.contains(destination));
  if (!owner) {
    if (!network) {
      hops.push({ step: 'lease', status: 'info', detail: `${destination} is outside the flannel network (${facts.networks.join(', ') || 'unknown'}): the kernel routes it like any other traffic` });
      hops.push(routeHop(facts));
      return report();
    }
    hops.push({ step: 'lease', status: 'broken', detail: `no lease covers ${destination} in ${network}: the peer is gone or its lease was deleted or expired` });
    hops.push(routeHop(facts));
    return report();
  }
  const { lease } = owner;
  if (owner.state === 'own') {
    hops.push({ step: 'lease', status: 'ok', detail: `${destination} is in this host's own subnet ${lease.subnet}` });
    hops.push(localRouteHop(facts));
    return report();
  }
  if (owner.state === 'rejected') {
    hops.push({ step: 'lease', status: 'broken', detail: `lease ${lease.subnet} (${lease.attrs.publicIP}) is rejected by flanneld: ${owner.reason}` });
  } else if (lease.expiresAtMs !== undefined && lease.expiresAtMs <= facts.nowMs) {
    hops.push({ step: 'lease', status: 'broken', detail: `peer lease ${lease.subnet} expired at ${new Date(lease.expiresAtMs).toISOString()} (its flanneld stopped renewing it)` });
  } else {
    const expiry = lease.expiresAtMs === undefined ? 'never expires' : `expires ${new Date(lease.expiresAtMs).toISOString()}`;
    hops.push({ step: 'lease', status: 'ok', detail: `peer lease ${lease.subnet} public ${peerPublic(lease, destination)}, ${lease.attrs.backendType || 'udp'}, ${expiry}` });
  }
  let judged = facts;
  if (facts.route.kind === 'refused' && facts.routeWithoutInput?.kind === 'route') {
    hops.push({
      step: 'input', status: 'broken',
      detail: `the kernel drops packets from ${facts.source} arriving on its device (${facts.route.code}): strict rp_filter or a martian source; the rest is judged as this host's own packet`,
    });
    judged = { ...facts, route: facts.routeWithoutInput };
  }
  const overlay = backendHops(judged, lease);
  hops.push(...overlay.hops);
  hops.push(...underlayHops(judged, lease, overlay.device));
  hops.push(...firewallHops(facts, network));
  if (facts.probe) hops.push(probeHop(facts, lease));
  return report();
}

function peerPublic(lease: Lease, destination: TraceFacts['destination']): string {
  return (destination.family === 6 ? lease.attrs.publicIPv6 : lease.attrs.publicIP)?.toString() ?? 'none';
}

function linkName(facts: TraceFacts, index: number | undefined): string {
  return facts.links.find((link) => link.index === index)?.name ?? `#${index}`;
}

function routeHop(facts: TraceFacts): TraceHop {
  return { step: 'route', status: facts.route.kind === 'route' ? 'info' : 'broken', detail: describeAnswer(facts, facts.route) };
}

/** A destination in our own subnet: it must go to the local bridge, not back into the overlay. */
function localRouteHop(facts: TraceFacts): TraceHop {
  const route = facts.route;
  if (route.kind === 'refused') return { step: 'route', status: 'broken', detail: describeAnswer(facts, route) };
  const link = facts.links.find((candidate) => candidate.index === route.linkIndex);
  if (link?.kind === 'vxlan' || link?.kind === 'wireguard' || link?.kind === 'tun') {
    return { step: 'route', status: 'broken', detail: `${describeAnswer(facts, route)}: a local pod's address goes back into the overlay (the bridge's route to the subnet is missing)` };
  }
  return { step: 'route', status: route.type === 'unicast' || route.type === 'local' ? 'ok' : 'broken', detail: `${describeAnswer(facts, route)} (local delivery)` };
}

/** The underlay route to the peer's public IP, and whether the overlay device's MTU plus encapsulation fits it. */
function underlayHops(facts: TraceFacts, lease: Lease, device: Link | undefined): TraceHop[] {
  if (!facts.underlay) return [];
  const hops: TraceHop[] = [];
  const publicIP = peerPublic(lease, facts.destination);
  const underlay = facts.underlay;
  if (underlay.kind === 'refused' || underlay.type !== 'unicast') {
    hops.push({ step: 'underlay', status: 'broken', detail: `no usable route to the peer's public IP ${publicIP}: ${describeAnswer(facts, underlay)}` });
    return hops;
  }
  const uplink = facts.links.find((link) => link.index === underlay.linkIndex);
  const expected = device?.vxlan?.underlayIndex;
  const wrongUplink = expected !== undefined && expected !== underlay.linkIndex;
  hops.push({
    step: 'underlay', status: wrongUplink ? 'warn' : 'ok',
    detail: `${publicIP} ${describeAnswer(facts, underlay)}${wrongUplink ? ` (the VXLAN device is bound to ${linkName(facts, expected)})` : ''}`,
  });
  const overhead = device ? overheadBytes(device, publicIP.includes(':') ? 6 : 4) : undefined;
  if (device && uplink && overhead !== undefined) {
    const fits = device.mtu + overhead <= uplink.mtu;
    hops.push({
      step: 'mtu', status: fits ? 'ok' : 'broken',
      detail: `${device.name} MTU ${device.mtu} + ${overhead} bytes of encapsulation ${fits ? '≤' : '>'} ${uplink.name} MTU ${uplink.mtu}${fits ? '' : ': MTU mismatch, full-size packets are dropped'}`,
    });
  }
  return hops;
}

function firewallHops(facts: TraceFacts, network: TraceFacts['networks'][number] | undefined): TraceHop[] {
  const view = facts.firewall;
  if (!view) return [{ step: 'forward', status: 'info', detail: 'firewall not readable here (iptables-save unavailable)' }];
  const hops: TraceHop[] = [];
  if (network && facts.source) {
    const allowed = forwardAllows(view, network);
    hops.push({
      step: 'forward', status: allowed ? 'ok' : 'broken',
      detail: allowed
        ? `FORWARD policy ${view.forwardPolicy ?? 'ACCEPT'}${view.forwardPolicy === 'DROP' ? `, accepted for ${network}${view.flannelForwardHooked ? ' by FLANNEL-FWD' : ''}` : ''}`
        : `FORWARD policy DROP and no rule accepts ${network} (flanneld's --iptables-forward-rules adds FLANNEL-FWD)`,
    });
  } else if (view.forwardPolicy === 'DROP' && network && !forwardAllows(view, network)) {
    hops.push({ step: 'forward', status: 'warn', detail: `FORWARD policy DROP and no rule accepts ${network}: pods' traffic would be dropped (trace with --from a pod to check)` });
  }
  const port = facts.overlayPort;
  const drop = port === undefined ? undefined : view.inputUdpDrops.find((entry) => entry.port === port);
  if (drop) hops.push({ step: 'input', status: 'broken', detail: `INPUT drops UDP ${port} here (${drop.rule}): peers' overlay packets cannot come in` });
  return hops;
}

function probeHop(facts: TraceFacts, lease: Lease): TraceHop {
  const probe = facts.probe as NonNullable<TraceFacts['probe']>;
  const publicIP = peerPublic(lease, facts.destination);
  if (probe.result === 'ok') return { step: 'probe', status: 'ok', detail: `the peer answered an overlay probe in ${probe.rttMs?.toFixed(2)} ms (both directions work)` };
  if (probe.result === 'error') return { step: 'probe', status: 'warn', detail: `the overlay probe could not be sent: ${probe.error}` };
  const port = facts.overlayPort === undefined ? 'the overlay' : `UDP ${facts.overlayPort}`;
  return {
    step: 'probe', status: 'broken',
    detail: `no answer from ${publicIP} over ${port}: the port is blocked on the peer or on the way, or the peer's own entries for this host are missing`,
  };
}
