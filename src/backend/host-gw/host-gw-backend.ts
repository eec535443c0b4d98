/**
 * host-gw (reference §5.2): no devices; for every peer with BackendType "host-gw" a route
 * `peer-subnet via peer-public-ip dev <external interface>` (IPv4, and IPv6 when enabled). A peer whose public IP
 * is not on-link on our external interface cannot be reached this way: it gets a warning and no route,
 * instead of a route the kernel would refuse or that would blackhole traffic.
 */
import type { DesiredState } from '../../dataplane/desired-state.js';
import { FLANNEL_ROUTE_PROTOCOL, MAIN_TABLE, type Route } from '../../dataplane/kernel-objects.js';
import { type Lease, UNSET_IPV4 } from '../../lease/lease.js';
import type { Cidr, IpAddress } from '../../net/ip.js';
import { FlannelError } from '../../support/errors.js';
import type { Backend, BackendContext } from '../backend.js';
import { type PeerPlan, type PeerPlanning, planPeers } from '../peer-group-planner.js';

export const HOST_GW = 'host-gw';

export function createHostGwBackend({ config, externalInterface: ext }: BackendContext): Backend {
  if (ext.extAddr && ext.ifaceAddr && !ext.extAddr.equals(ext.ifaceAddr.ip)) {
    throw new FlannelError(
      'BACKEND_CONFIG',
      `host-gw: your PublicIP (${ext.extAddr}) differs from the interface IP (${ext.ifaceAddr.ip}), meaning that probably you're on a NAT, which is not supported by the host-gw backend`,
    );
  }
  const perPeer = new WeakMap<Lease, PeerPlan>();
  const peerPlanning: PeerPlanning = {
    base: () => ({ devices: [], addresses: [] }),
    planPeer(peer: Lease) {
      let planned = perPeer.get(peer);
      if (!planned) perPeer.set(peer, (planned = planPeer(peer)));
      return planned;
    },
    // host-gw has no exclusive keys: no peer is ever skipped for another.
    clash: (holder, skipped) => `host-gw: peers ${holder.subnet} and ${skipped.subnet} clash`,
  };
  return {
    type: HOST_GW,
    mtu: ext.mtu,
    leaseAttrs: {
      publicIP: config.enableIPv4 && ext.extAddr ? ext.extAddr : UNSET_IPV4,
      backendType: HOST_GW,
      ...(config.enableIPv6 && ext.extV6Addr ? { publicIPv6: ext.extV6Addr } : {}),
    },
    checkPeer(peer: Lease) {
      return peer.attrs.backendType === HOST_GW ? undefined : { field: 'BackendType', value: JSON.stringify(peer.attrs.backendType), reason: 'not host-gw' };
    },
    plan(own: Lease, peers: readonly Lease[]): DesiredState {
      return planPeers(peerPlanning, own, peers);
    },
    peerPlanning,
  };

  /** One peer's route(s); memoized by lease object (unchanged leases stay the same objects). */
  function planPeer(peer: Lease): PeerPlan {
    const routes: Route[] = [];
    const warnings: string[] = [];
    if (peer.attrs.backendType !== HOST_GW) {
      warnings.push(`ignoring peer ${peer.subnet}: backend type ${JSON.stringify(peer.attrs.backendType)} is not host-gw`);
      return { routes, neighbours: [], warnings, exclusive: [] };
    }
    const families: Array<[Cidr | undefined, IpAddress | undefined]> = [];
    if (config.enableIPv4) families.push([peer.subnet, peer.attrs.publicIP]);
    if (config.enableIPv6) families.push([peer.ipv6Subnet, peer.attrs.publicIPv6]);
    for (const [subnet, gateway] of families) {
      if (!subnet || !gateway || gateway.isUnspecified()) continue;
      if (!ext.prefixes.some((prefix) => prefix.contains(gateway))) {
        warnings.push(`host-gw: peer ${subnet} has public IP ${gateway}, which is not on-link on ${ext.name}; no route installed (host-gw needs all hosts on one L2 network)`);
        continue;
      }
      routes.push({
        dst: subnet, gateway, linkIndex: ext.linkIndex, table: MAIN_TABLE, protocol: FLANNEL_ROUTE_PROTOCOL,
        type: 'unicast', onlink: false,
      });
    }
    return { routes, neighbours: [], warnings, exclusive: [] };
  }
}
