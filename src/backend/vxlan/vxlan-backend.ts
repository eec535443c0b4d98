/**
 * vxlan (reference §5.1, upstream's "v2" design: everything programmed up front). Devices `flannel.<VNI>` (IPv4
 * underlay) and `flannel-v6.<VNI>` (IPv6 underlay), local = our public address, on the external interface,
 * learning off unless configured, MTU = (Backend.MTU or the interface MTU) − 50 (− 70 over IPv6), our subnet's
 * first address as /32 (/128). Per peer, exactly: a route `peer-subnet via peer-subnet-ip dev flannel.N onlink`,
 * a permanent neighbour `peer-subnet-ip lladdr VtepMAC` and an FDB entry `VtepMAC dst peer-public-ip`. With
 * DirectRouting, a peer on our L2 network gets a plain route via its public IP instead. Pure planner.
 *
 * The factory refuses what the kernel would refuse on every pass (a device name longer than 15 characters, an
 * MTU above the underlay's or below the minimum), so flanneld fails at start with the reason instead of
 * reporting ready while its device cannot exist. `checkPeer` rejects peers whose BackendData cannot work with
 * ours: another VNI, a VtepMAC that is not a unicast MAC, or our own.
 */
import type { DesiredAddress, DesiredState } from '../../dataplane/desired-state.js';
import { type VxlanDevice, incompatibilities } from '../../dataplane/devices.js';
import { FLANNEL_ROUTE_PROTOCOL, MAIN_TABLE, NUD_PERMANENT, type Neighbour, type Route } from '../../dataplane/kernel-objects.js';
import { type Lease, type LeaseAttrs, UNSET_IPV4 } from '../../lease/lease.js';
import type { LeaseProblem } from '../../lease/lease-validation.js';
import { Cidr, type IpAddress, type IpFamily } from '../../net/ip.js';
import { MacAddress } from '../../net/mac.js';
import { ValidationError } from '../../support/errors.js';
import { isJsonObject, pickFields } from '../../support/json-fields.js';
import type { Backend, BackendContext, ExternalInterface } from '../backend.js';
import { type PeerPlan, type PeerPlanning, planPeers } from '../peer-group-planner.js';
import { VXLAN_OVERHEAD, checkVxlanConfig, parseVxlanOptions, vxlanDeviceName } from './vxlan-options.js';
import { vtepMac } from './vtep-mac.js';

export const VXLAN = 'vxlan';

export function createVxlanBackend({ config, externalInterface: ext, links = [], storedVtepMacs = {} }: BackendContext): Backend {
  const problems = checkVxlanConfig(config, { name: ext.name, mtu: ext.mtu });
  if (problems.length > 0) throw new ValidationError(problems, 'vxlan backend config');
  const options = parseVxlanOptions(config.backend);
  const baseMtu = options.mtu ?? ext.mtu;
  const device = (family: IpFamily, local: IpAddress): VxlanDevice => {
    const name = vxlanDeviceName(family, options.vni);
    const spec: VxlanDevice = {
      kind: 'vxlan', name, vni: options.vni, port: options.port, local, underlayIndex: ext.linkIndex, learning: options.learning,
      gbp: options.gbp, mtu: baseMtu - VXLAN_OVERHEAD[family], mac: MacAddress.parse('02:00:00:00:00:00'),
    };
    const existing = links.find((link) => link.name === name);
    const compatible = existing !== undefined && incompatibilities(spec, existing).length === 0;
    return { ...spec, mac: vtepMac(existing, compatible, family === 4 ? storedVtepMacs.v4 : storedVtepMacs.v6, local, options.vni) };
  };
  const v4 = config.enableIPv4 && ext.extAddr ? device(4, ext.extAddr) : undefined;
  const v6 = config.enableIPv6 && ext.extV6Addr ? device(6, ext.extV6Addr) : undefined;
  const devices = [v4, v6].filter((d): d is VxlanDevice => d !== undefined);
  const data = (d: VxlanDevice) => ({ VNI: options.vni, VtepMAC: d.mac.toString() });
  const leaseAttrs: LeaseAttrs = {
    publicIP: v4 ? (ext.extAddr as IpAddress) : UNSET_IPV4,
    backendType: VXLAN,
    ...(v6 && ext.extV6Addr ? { publicIPv6: ext.extV6Addr } : {}),
    ...(v4 ? { backendData: data(v4) } : {}),
    ...(v6 ? { backendV6Data: data(v6) } : {}),
  };
  const perPeer = new WeakMap<Lease, VxlanPeerPlan>();
  const peerPlanning: PeerPlanning = {
    base(own: Lease) {
      const addresses: DesiredAddress[] = [];
      if (v4) addresses.push({ linkName: v4.name, address: Cidr.of(own.subnet.ip, 32) });
      if (v6 && own.ipv6Subnet) addresses.push({ linkName: v6.name, address: Cidr.of(own.ipv6Subnet.ip, 128) });
      return { devices, addresses };
    },
    planPeer(peer: Lease) {
      let planned = perPeer.get(peer);
      if (!planned) perPeer.set(peer, (planned = planPeer(peer)));
      return planned;
    },
    clash: (holder, skipped) => `vxlan: peers ${holder.subnet} and ${skipped.subnet} publish the same VtepMAC; ${skipped.subnet} skipped`,
  };
  return {
    type: VXLAN,
    mtu: Math.min(...devices.map((d) => d.mtu), baseMtu),
    leaseAttrs,
    devices,
    options,
    plan(own: Lease, peers: readonly Lease[]): DesiredState {
      return planPeers(peerPlanning, own, peers);
    },
    peerPlanning,
    checkPeer(peer: Lease): LeaseProblem | undefined {
      if (peer.attrs.backendType !== VXLAN) return { field: 'BackendType', value: JSON.stringify(peer.attrs.backendType), reason: 'not vxlan' };
      const families: Array<[VxlanDevice | undefined, Cidr | undefined, unknown, string]> = [
        [v4, peer.subnet, peer.attrs.backendData, 'BackendData'],
        [v6, peer.ipv6Subnet, peer.attrs.backendV6Data, 'BackendV6Data'],
      ];
      for (const [dev, subnet, backendData, field] of families) {
        if (!dev || !subnet) continue;
        const problem = checkVtep(backendData, field, dev);
        if (problem) return problem;
      }
      return undefined;
    },
  };

  /** A peer's BackendData for one of our devices: our VNI, and a unicast VtepMAC that is not our device's. */
  function checkVtep(backendData: unknown, field: string, dev: VxlanDevice): LeaseProblem | undefined {
    if (!isJsonObject(backendData)) return { field, value: JSON.stringify(backendData) ?? '(none)', reason: 'expected an object with VNI and VtepMAC' };
    const { VNI: vni, VtepMAC: text } = pickFields(backendData, ['VNI', 'VtepMAC'] as const);
    if (vni !== options.vni) return { field: `${field}.VNI`, value: JSON.stringify(vni) ?? '(none)', reason: `differs from our VNI ${options.vni}` };
    const mac = typeof text === 'string' ? MacAddress.tryParse(text) : undefined;
    const value = JSON.stringify(text) ?? '(none)';
    if (!mac) return { field: `${field}.VtepMAC`, value, reason: 'not a MAC address' };
    const bytes = mac.toBytes();
    // A multicast (group bit set) or all-zero destination MAC would flood or drop every frame sent to the peer.
    if (((bytes[0] ?? 0) & 1) === 1 || bytes.every((byte) => byte === 0)) return { field: `${field}.VtepMAC`, value, reason: 'not a unicast MAC address' };
    if (mac.equals(dev.mac)) return { field: `${field}.VtepMAC`, value, reason: `the VTEP MAC of our own ${dev.name}` };
    return undefined;
  }

  /** One peer's entries; memoized by lease object (the tracker keeps unchanged leases as the same objects). */
  function planPeer(peer: Lease): VxlanPeerPlan {
    const planned: VxlanPeerPlan = { neighbours: [], routes: [], warnings: [], exclusive: [] };
    if (peer.attrs.backendType !== VXLAN) {
      planned.warnings.push(`ignoring peer ${peer.subnet}: backend type ${JSON.stringify(peer.attrs.backendType)} is not vxlan`);
      return planned;
    }
    const families: Array<[VxlanDevice | undefined, Cidr | undefined, IpAddress | undefined, unknown, string]> = [
      [v4, peer.subnet, peer.attrs.publicIP, peer.attrs.backendData, 'BackendData'],
      [v6, peer.ipv6Subnet, peer.attrs.publicIPv6, peer.attrs.backendV6Data, 'BackendV6Data'],
    ];
    for (const [dev, subnet, publicIP, backendData, field] of families) {
      if (!dev || !subnet || !publicIP || publicIP.isUnspecified()) continue;
      if (options.directRouting && onLink(ext, publicIP)) {
        planned.routes.push(route(subnet, publicIP, { linkIndex: ext.linkIndex }, false));
        continue;
      }
      const mac = vtepMacOf(backendData);
      if (!mac) {
        planned.warnings.push(`vxlan: peer ${subnet} has no usable ${field}.VtepMAC (${JSON.stringify(backendData)}); no entries installed`);
        continue;
      }
      planned.exclusive.push(`${dev.name}|${mac}`);
      planned.neighbours.push(
        { kind: 'neigh', linkName: dev.name, ip: subnet.ip, mac, state: NUD_PERMANENT },
        { kind: 'fdb', linkName: dev.name, ip: publicIP, mac, state: NUD_PERMANENT },
      );
      planned.routes.push(route(subnet, subnet.ip, { linkName: dev.name }, true));
    }
    return planned;
  }
}

/** One peer's entries; its exclusive keys are `device|VtepMAC` of each FDB entry (two peers may not share one). */
interface VxlanPeerPlan extends PeerPlan {
  readonly neighbours: Neighbour[];
  readonly routes: Route[];
  readonly warnings: string[];
  readonly exclusive: string[];
}

function route(dst: Cidr, gateway: IpAddress, device: { linkName: string } | { linkIndex: number }, onlink: boolean): Route {
  return { dst, gateway, ...device, table: MAIN_TABLE, protocol: FLANNEL_ROUTE_PROTOCOL, type: 'unicast', onlink };
}

function onLink(ext: ExternalInterface, ip: IpAddress): boolean {
  return ext.prefixes.some((prefix) => prefix.contains(ip));
}

/** `{"VNI":1,"VtepMAC":"aa:bb:…"}` → the MAC, case-insensitive keys as Go decodes them; undefined if unusable. */
function vtepMacOf(backendData: unknown): MacAddress | undefined {
  if (!isJsonObject(backendData)) return undefined;
  const value = pickFields(backendData, ['VtepMAC'] as const).VtepMAC;
  return typeof value === 'string' ? MacAddress.tryParse(value) : undefined;
}
