/**
 * A vxlan/host-gw/udp/wireguard host on a MemoryKernel for trace and status tests: eth0 198.18.0.11/24 (MTU
 * 1500), cni0 with 10.244.1.1/24, our lease 10.244.1.0/24, a peer 10.244.2.0/24 at 198.18.0.12, and the
 * backend's kernel entries for that peer as flanneld programs them. Tests break one thing and trace.
 */
import { type Link, MAIN_TABLE, FLANNEL_ROUTE_PROTOCOL, NUD_PERMANENT, type Neighbour, type Route, neighbourKey, routeKey } from '../../src/dataplane/kernel-objects.js';
import { MemoryKernel } from '../../src/dataplane/memory-kernel.js';
import type { Lease } from '../../src/lease/lease.js';
import { Cidr, IpAddress } from '../../src/net/ip.js';
import { MacAddress } from '../../src/net/mac.js';
import type { LeaseTable } from '../../src/ops/status-document.js';

export const OWN_MAC = MacAddress.parse('0e:00:00:00:00:0b');
export const PEER_MAC = MacAddress.parse('0e:00:00:00:00:0c');
export const NOW_MS = 1_700_000_000_000;

export function vxlanLease(subnet: string, publicIP: string, mac: MacAddress, extra: Partial<Lease> = {}): Lease {
  return { subnet: Cidr.parse(subnet), attrs: { publicIP: IpAddress.parse(publicIP), backendType: 'vxlan', backendData: { VNI: 1, VtepMAC: mac.toString() } }, expiresAtMs: NOW_MS + 3_600_000, ...extra };
}

export const OWN = vxlanLease('10.244.1.0/24', '198.18.0.11', OWN_MAC);
export const PEER = vxlanLease('10.244.2.0/24', '198.18.0.12', PEER_MAC);

export function leaseTable(peer: Lease = PEER, own: Lease = OWN): LeaseTable {
  return { own, admitted: [peer], rejected: [] };
}

export const route = (parts: Omit<Partial<Route>, 'dst'> & { dst: string }): Route => ({
  table: MAIN_TABLE, protocol: FLANNEL_ROUTE_PROTOCOL, type: 'unicast', onlink: false, ...parts, dst: Cidr.parse(parts.dst),
});

export function setRoute(kernel: MemoryKernel, entry: Route): void {
  kernel.routes.set(routeKey(entry), entry);
}

export function setNeighbour(kernel: MemoryKernel, entry: Neighbour): void {
  kernel.neighbours.set(neighbourKey(entry), entry);
}

/** The base host: eth0 (2), cni0 (3). */
export function baseHost(): MemoryKernel {
  return new MemoryKernel()
    .addLink({ index: 2, name: 'eth0', mtu: 1500, up: true }, [{ address: Cidr.parse('198.18.0.11/24'), scope: 0, flags: 0x80 }])
    .addLink({ index: 3, name: 'cni0', mtu: 1450, up: true, kind: 'bridge' }, [{ address: Cidr.parse('10.244.1.1/24'), scope: 0, flags: 0x80 }]);
}

/** A vxlan host with flannel.1 (index 10) and the peer's route, neighbour and FDB entry. */
export function vxlanHost(device: Partial<Link> = {}): MemoryKernel {
  const kernel = baseHost().addLink({
    index: 10, name: 'flannel.1', mtu: 1450, up: true, mac: OWN_MAC, kind: 'vxlan',
    vxlan: { vni: 1, port: 8472, local: IpAddress.parse('198.18.0.11'), underlayIndex: 2, learning: false, gbp: false }, ...device,
  }, [{ address: Cidr.parse('10.244.1.0/32'), scope: 0, flags: 0x80 }]);
  setRoute(kernel, route({ dst: '10.244.2.0/24', gateway: IpAddress.parse('10.244.2.0'), linkIndex: 10, onlink: true }));
  setNeighbour(kernel, { kind: 'neigh', linkIndex: 10, ip: IpAddress.parse('10.244.2.0'), mac: PEER_MAC, state: NUD_PERMANENT });
  setNeighbour(kernel, { kind: 'fdb', linkIndex: 10, ip: IpAddress.parse('198.18.0.12'), mac: PEER_MAC, state: NUD_PERMANENT });
  return kernel;
}
