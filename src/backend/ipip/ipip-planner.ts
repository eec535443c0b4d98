/**
 * ipip's pure planner (reference §5.4), ready for the device union. The device `flannel.ipip`, type ipip,
 * `local` = the external interface's own IPv4 address (not --public-ip), remote any, MTU = interface MTU − 20
 * (= FLANNEL_MTU), our subnet's first address as /32. Per peer with BackendType "ipip", one route
 * `peer-subnet via peer-public-ip dev flannel.ipip onlink`; with DirectRouting, a peer on our L2 network gets
 * the same route on the external interface instead (upstream keeps the onlink flag there too). Lease:
 * `{"PublicIP": <public ip>, "BackendType": "ipip"}`.
 *
 * Groups are memoized by lease object, so a lease event costs O(that peer).
 */
import type { DesiredAddress, DesiredGroup } from '../../dataplane/desired-state.js';
import type { IpipDevice } from '../../dataplane/devices.js';
import { FLANNEL_ROUTE_PROTOCOL, MAIN_TABLE, type Route } from '../../dataplane/kernel-objects.js';
import { type Lease, type LeaseAttrs, UNSET_IPV4 } from '../../lease/lease.js';
import type { LeaseProblem } from '../../lease/lease-validation.js';
import { Cidr } from '../../net/ip.js';
import { FlannelError } from '../../support/errors.js';
import type { ExternalInterface } from '../backend.js';
import { IPIP, IPIP_DEVICE, IPIP_OVERHEAD, type IpipOptions, ipipMtuProblem } from './ipip-options.js';

export interface IpipPlan {
  readonly devices: readonly IpipDevice[];
  readonly addresses: readonly DesiredAddress[];
  readonly groups: readonly DesiredGroup[];
  readonly warnings: readonly string[];
}

type Group = DesiredGroup & { readonly warnings: readonly string[] };

export class IpipPlanner {
  readonly device: IpipDevice;
  readonly mtu: number;
  readonly leaseAttrs: LeaseAttrs;
  private readonly perPeer = new WeakMap<Lease, Group>();

  constructor(private readonly context: { externalInterface: ExternalInterface; options: IpipOptions }) {
    const ext = context.externalInterface;
    if (!ext.ifaceAddr || ext.ifaceAddr.family !== 4) {
      throw new FlannelError('BACKEND_CONFIG', `ipip: ${ext.name} has no IPv4 address to use as the tunnel's local address`);
    }
    this.mtu = ext.mtu - IPIP_OVERHEAD;
    if (this.mtu < 68) throw new FlannelError('BACKEND_CONFIG', ipipMtuProblem(ext));
    this.device = { kind: 'ipip', name: IPIP_DEVICE, local: ext.ifaceAddr.ip, mtu: this.mtu };
    this.leaseAttrs = { publicIP: ext.extAddr ?? UNSET_IPV4, backendType: IPIP };
  }

  plan(own: Lease, peers: readonly Lease[]): IpipPlan {
    const groups: Group[] = [];
    const warnings: string[] = [];
    for (const peer of peers) {
      let planned = this.perPeer.get(peer);
      if (!planned) this.perPeer.set(peer, (planned = this.planPeer(peer)));
      warnings.push(...planned.warnings);
      if (planned.routes.length > 0) groups.push(planned);
    }
    return { devices: [this.device], addresses: [{ linkName: IPIP_DEVICE, address: Cidr.of(own.subnet.ip, 32) }], groups, warnings };
  }

  checkPeer(peer: Lease): LeaseProblem | undefined {
    if (peer.attrs.backendType !== IPIP) return { field: 'BackendType', value: JSON.stringify(peer.attrs.backendType), reason: 'not ipip' };
    if (peer.attrs.publicIP.isUnspecified()) return { field: 'PublicIP', value: JSON.stringify(peer.attrs.publicIP.toString()), reason: 'ipip needs the peer\'s IPv4 address' };
    return undefined;
  }

  private planPeer(peer: Lease): Group {
    if (this.checkPeer(peer)) return { routes: [], neighbours: [], warnings: [`ignoring peer ${peer.subnet}: ${this.checkPeer(peer)?.reason}`] };
    const ext = this.context.externalInterface;
    const direct = this.context.options.directRouting && ext.prefixes.some((prefix) => prefix.contains(peer.attrs.publicIP));
    const route: Route = {
      dst: peer.subnet, gateway: peer.attrs.publicIP, ...(direct ? { linkIndex: ext.linkIndex } : { linkName: IPIP_DEVICE }),
      table: MAIN_TABLE, protocol: FLANNEL_ROUTE_PROTOCOL, type: 'unicast', onlink: true,
    };
    return { routes: [route], neighbours: [], warnings: [] };
  }
}
