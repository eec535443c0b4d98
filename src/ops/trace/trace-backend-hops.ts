/**
 * The backend's own hops of a trace, pure: what the kernel's chosen route must lead through for each backend.
 * - vxlan: route via the peer's VTEP address on flannel.<VNI> (onlink) → permanent neighbour to the peer's VTEP
 *   MAC (from its lease) → FDB entry for that MAC to the peer's public IP. DirectRouting peers: like host-gw.
 * - host-gw: route via the peer's public IP, which must be on-link on the route's device.
 * - udp: route into the TUN device (flannel0…), which must be up; the forwarder maps the subnet to the peer.
 * - wireguard: route into the WireGuard device, a peer there whose allowed IPs cover the destination, with the
 *   lease's endpoint, and a recent handshake.
 * Returns the hops and the overlay device the packet enters (for the MTU check).
 */
import { type Link, NUD_PERMANENT } from '../../dataplane/kernel-objects.js';
import type { Lease } from '../../lease/lease.js';
import type { IpAddress } from '../../net/ip.js';
import { backendPortOf as portOf, vtepMacOf as vtepMac } from '../lease-backend-data.js';
import type { RouteAnswer } from './route-resolver.js';
import type { TraceFacts, TraceHop } from './trace-facts.js';

/** A handshake older than this means the session is gone (WireGuard's REJECT_AFTER_TIME). */
const HANDSHAKE_STALE_MS = 180_000;

export function backendHops(facts: TraceFacts, lease: Lease): { hops: TraceHop[]; device?: Link } {
  const route = facts.route;
  if (route.kind === 'refused') {
    return { hops: [{ step: 'route', status: 'broken', detail: `${describeAnswer(facts, route)}: no route to ${peerSubnet(lease, facts.destination)}` }] };
  }
  if (route.type !== 'unicast') return { hops: [{ step: 'route', status: 'broken', detail: `${describeAnswer(facts, route)}: the kernel does not forward to ${facts.destination}` }] };
  const link = facts.links.find((candidate) => candidate.index === route.linkIndex);
  const publicIP = peerPublicIp(lease, facts.destination);
  const type = facts.backendType === '' ? 'udp' : facts.backendType;
  if (type === 'host-gw' || (type === 'vxlan' && link?.kind !== 'vxlan' && publicIP && route.gateway?.equals(publicIP))) {
    return directHops(facts, route, link, publicIP, type === 'vxlan' ? ' (DirectRouting)' : '');
  }
  const expectedKind = type === 'vxlan' ? 'vxlan' : type === 'udp' ? 'tun' : type === 'wireguard' ? 'wireguard' : undefined;
  if (expectedKind === undefined) return { hops: [{ step: 'route', status: 'info', detail: `${describeAnswer(facts, route)} (backend ${type} has no overlay hops to check)` }] };
  if (link?.kind !== expectedKind) {
    return { hops: [{ step: 'route', status: 'broken', detail: `${describeAnswer(facts, route)}: not into the ${expectedKind} device; the route to ${peerSubnet(lease, facts.destination)} is missing` }] };
  }
  const hops: TraceHop[] = [{ step: 'route', status: link.up ? 'ok' : 'broken', detail: `${describeAnswer(facts, route)}${link.up ? '' : `: ${link.name} is down`}` }];
  if (expectedKind === 'vxlan') hops.push(...vxlanHops(facts, lease, route, link));
  if (expectedKind === 'tun') hops.push({ step: 'tun', status: 'info', detail: `${link.name} hands the packet to flanneld's forwarder, which sends it to ${publicIP ?? 'the peer'} by the lease` });
  if (expectedKind === 'wireguard') hops.push(wireguardHop(facts, lease, link, publicIP));
  return { hops, device: link };
}

function vxlanHops(facts: TraceFacts, lease: Lease, route: Extract<RouteAnswer, { kind: 'route' }>, link: Link): TraceHop[] {
  const hops: TraceHop[] = [];
  const nextHop = route.gateway ?? facts.destination;
  const wantedMac = vtepMac(facts.destination.family === 6 ? lease.attrs.backendV6Data : lease.attrs.backendData);
  const publicIP = peerPublicIp(lease, facts.destination);
  const neighbour = facts.neighbours.find((entry) => entry.kind === 'neigh' && entry.linkIndex === link.index && entry.ip?.equals(nextHop));
  if (!neighbour?.mac) {
    hops.push({ step: 'neighbour', status: 'broken', detail: `missing neighbour entry for ${nextHop} on ${link.name} (want lladdr ${wantedMac ?? '?'} permanent)` });
  } else if (wantedMac && !wantedMac.equals(neighbour.mac)) {
    hops.push({ step: 'neighbour', status: 'broken', detail: `neighbour ${nextHop} on ${link.name} has lladdr ${neighbour.mac}, the peer's lease says VtepMAC ${wantedMac}` });
  } else {
    const permanent = (neighbour.state & NUD_PERMANENT) !== 0;
    hops.push({ step: 'neighbour', status: permanent ? 'ok' : 'warn', detail: `${nextHop} lladdr ${neighbour.mac} dev ${link.name}${permanent ? ' permanent' : ' (not permanent: it may expire)'}` });
  }
  const mac = neighbour?.mac ?? wantedMac;
  const fdb = mac && facts.neighbours.find((entry) => entry.kind === 'fdb' && entry.linkIndex === link.index && entry.mac?.equals(mac));
  if (!mac) {
    hops.push({ step: 'fdb', status: 'broken', detail: 'no VTEP MAC known for the peer (lease without VtepMAC)' });
  } else if (!fdb) {
    hops.push({ step: 'fdb', status: 'broken', detail: `missing FDB entry for ${mac} on ${link.name} (want dst ${publicIP ?? '?'}): the kernel does not know where to send the encapsulated frame` });
  } else if (publicIP && !publicIP.equals(fdb.ip)) {
    hops.push({ step: 'fdb', status: 'broken', detail: `FDB entry ${mac} on ${link.name} sends to ${fdb.ip}, the peer's lease says ${publicIP}` });
  } else {
    hops.push({ step: 'fdb', status: 'ok', detail: `${mac} dst ${fdb.ip} dev ${link.name}${link.vxlan?.port ? ` (UDP ${link.vxlan.port}, VNI ${link.vxlan.vni})` : ''}` });
  }
  return hops;
}

function directHops(facts: TraceFacts, route: Extract<RouteAnswer, { kind: 'route' }>, link: Link | undefined, publicIP: IpAddress | undefined, note: string): { hops: TraceHop[]; device?: Link } {
  const gateway = route.gateway;
  if (!publicIP || !gateway || !gateway.equals(publicIP)) {
    return { hops: [{ step: 'route', status: 'broken', detail: `${describeAnswer(facts, route)}: not via the peer's public IP ${publicIP ?? '?'}; the route to the peer's subnet is missing` }] };
  }
  const hops: TraceHop[] = [{ step: 'route', status: 'ok', detail: `${describeAnswer(facts, route)}${note}` }];
  const onLink = facts.addresses.some((address) => address.linkIndex === route.linkIndex && address.address.contains(gateway));
  hops.push({
    step: 'on-link', status: onLink ? 'ok' : 'broken',
    detail: onLink ? `${gateway} is on-link on ${link?.name ?? `#${route.linkIndex}`}` : `peer ${gateway} is not on-link on ${link?.name ?? `#${route.linkIndex}`}: host-gw needs all hosts on one L2 network`,
  });
  return { hops };
}

function wireguardHop(facts: TraceFacts, lease: Lease, link: Link, publicIP: IpAddress | undefined): TraceHop {
  if (!facts.wireguardPeers) return { step: 'wireguard-peer', status: 'info', detail: `${link.name}'s peers are not readable here` };
  const peer = facts.wireguardPeers.find((candidate) => candidate.device === link.name && candidate.allowedIps.some((cidr) => cidr.contains(facts.destination)));
  if (!peer) return { step: 'wireguard-peer', status: 'broken', detail: `no peer on ${link.name} has allowed IPs covering ${facts.destination}` };
  const port = portOf(facts.destination.family === 6 ? lease.attrs.backendV6Data : lease.attrs.backendData);
  const wanted = publicIP ? (publicIP.family === 6 ? `[${publicIP}]` : publicIP.toString()) + (port ? `:${port}` : '') : undefined;
  if (wanted && peer.endpoint && !(port ? peer.endpoint === wanted : peer.endpoint.startsWith(wanted + ':'))) {
    return { step: 'wireguard-peer', status: 'broken', detail: `peer ${peer.publicKey} on ${link.name} has endpoint ${peer.endpoint}, the lease says ${wanted}` };
  }
  if (peer.lastHandshakeEpochMs === undefined) return { step: 'wireguard-peer', status: 'warn', detail: `peer ${peer.publicKey} endpoint ${peer.endpoint ?? 'none'}: no handshake yet` };
  const ageMs = facts.nowMs - peer.lastHandshakeEpochMs;
  return {
    step: 'wireguard-peer', status: ageMs > HANDSHAKE_STALE_MS ? 'warn' : 'ok',
    detail: `peer ${peer.publicKey} endpoint ${peer.endpoint ?? 'none'}, last handshake ${Math.round(ageMs / 1000)} s ago${ageMs > HANDSHAKE_STALE_MS ? ' (stale: no traffic, or the peer does not answer)' : ''}`,
  };
}

/** `via GW dev NAME (type)` or the kernel's refusal. */
export function describeAnswer(facts: TraceFacts, answer: RouteAnswer): string {
  if (answer.kind === 'refused') return `kernel: ${answer.code} (${answer.message})`;
  const name = facts.links.find((link) => link.index === answer.linkIndex)?.name ?? (answer.linkIndex === undefined ? undefined : `#${answer.linkIndex}`);
  return [answer.type === 'unicast' ? undefined : answer.type, answer.gateway ? `via ${answer.gateway}` : undefined, name ? `dev ${name}` : undefined,
    answer.prefSrc ? `src ${answer.prefSrc}` : undefined].filter(Boolean).join(' ') || answer.type;
}

/** Bytes of encapsulation a device adds (outer headers), for the MTU check; undefined: not an overlay device. */
export function overheadBytes(device: Link, underlayFamily: 4 | 6): number | undefined {
  const ip = underlayFamily === 6 ? 40 : 20;
  if (device.kind === 'vxlan') return ip + 8 + 8 + 14;
  if (device.kind === 'tun') return ip + 8;
  if (device.kind === 'wireguard') return ip + 8 + 32;
  return undefined;
}

function peerPublicIp(lease: Lease, destination: IpAddress): IpAddress | undefined {
  return destination.family === 6 ? lease.attrs.publicIPv6 : lease.attrs.publicIP;
}

function peerSubnet(lease: Lease, destination: IpAddress): string {
  return (destination.family === 6 ? lease.ipv6Subnet : lease.subnet)?.toString() ?? 'the peer';
}
