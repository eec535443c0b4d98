/**
 * wireguard's pure planner (reference §5.5). Devices per Mode: `separate` gives `flannel-wg` (IPv4, ListenPort)
 * and `flannel-wg-v6` (IPv6, ListenPortV6) for the enabled families; `auto`/`ipv4`/`ipv6` give one `flannel-wg`
 * (ListenPort) carrying both. Device MTU = (Backend.MTU or the interface MTU) − 80 = FLANNEL_MTU. Our subnet's
 * first address as /32 (/128) on the device of its family, and one scope-link route to the whole Network
 * (IPv6Network) through it. Per peer lease and device, one desired peer: AllowedIPs = the peer's subnet(s),
 * endpoint = its public IP and the Port of its BackendData (0 → our own listen port, as upstream does for
 * leases without Port), our PSK and keepalive. In the single-device modes the endpoint's family comes from the
 * Mode; `auto` applies upstream's choice (`selectMode`).
 *
 * Published: BackendData `{"PublicKey","Port"}` when IPv4 is enabled, BackendV6Data when IPv6 is. One deliberate
 * difference: in the single-device modes BackendV6Data.Port is ListenPort — the port that device listens on —
 * where upstream (since 35249c25) publishes ListenPortV6, a port nobody listens on, so its peers' IPv6
 * endpoints fail. For a peer, the Port of the data of the endpoint's family is used, as upstream.
 *
 * Per-peer groups are memoized by lease object (the tracker keeps unchanged leases as the same objects), so a
 * lease event costs O(that peer). Two leases publishing one public key (a cloned key file) cannot both be
 * peers of a device: the later one is skipped with a warning instead of stealing the other's allowed IPs.
 */
import type { NetworkConfig } from '../../config/network-config.js';
import type { DesiredAddress, DesiredGroup } from '../../dataplane/desired-state.js';
import { FLANNEL_ROUTE_PROTOCOL, MAIN_TABLE, type Route } from '../../dataplane/kernel-objects.js';
import { type Lease, type LeaseAttrs, UNSET_IPV4, hasIpv4 } from '../../lease/lease.js';
import type { LeaseProblem } from '../../lease/lease-validation.js';
import { Cidr, type IpAddress } from '../../net/ip.js';
import type { ExternalInterface } from '../backend.js';
import type { WireguardEndpoint } from './wireguard-control.js';
import type { DesiredWireguardPeer, WireguardDeviceConfig } from './wireguard-desired.js';
import type { ChosenWireguardImplementation } from './wireguard-implementation.js';
import type { WireguardKey } from './wireguard-key.js';
import { type WireguardLeaseData, decodeWireguardLeaseData, isLeaseProblem, wireguardBackendData } from './wireguard-lease-data.js';
import { WIREGUARD, WIREGUARD_OVERHEAD, type WireguardOptions, wireguardDevices } from './wireguard-options.js';

export interface WireguardPlannerContext {
  readonly config: Pick<NetworkConfig, 'enableIPv4' | 'enableIPv6' | 'network' | 'ipv6Network'>;
  readonly externalInterface: Pick<ExternalInterface, 'mtu' | 'extAddr' | 'extV6Addr'>;
  readonly options: WireguardOptions;
  /** Our private key (from the key file); the public key is derived once. */
  readonly privateKey: WireguardKey;
  /** Which implementation runs the devices (chooseWireguardImplementation): the reconciler creates or waits for them. */
  readonly implementation: ChosenWireguardImplementation;
}

/** One peer's group: DesiredGroup plus its WireGuard peers (one per device). */
export interface WireguardPeerGroup extends DesiredGroup {
  readonly wireguardPeers: readonly DesiredWireguardPeer[];
  readonly warnings: readonly string[];
}

/** What `plan` returns: the parts of DesiredState, with groups carrying WireGuard peers. */
export interface WireguardPlan {
  readonly devices: readonly WireguardDeviceConfig[];
  readonly addresses: readonly DesiredAddress[];
  /** The first group holds the Network route(s); then one group per planned peer. */
  readonly groups: readonly WireguardPeerGroup[];
  readonly warnings: readonly string[];
}

/** The kernel's RT_SCOPE_LINK: `ip route … scope link`, as upstream adds the Network route. */
const RT_SCOPE_LINK = 253;

export class WireguardPlanner {
  readonly devices: readonly WireguardDeviceConfig[];
  /** FLANNEL_MTU (equal to the devices' MTU). */
  readonly mtu: number;
  readonly leaseAttrs: LeaseAttrs;
  readonly publicKey: WireguardKey;
  private readonly v4Device: WireguardDeviceConfig | undefined;
  private readonly v6Device: WireguardDeviceConfig | undefined;
  private readonly networkGroup: WireguardPeerGroup;
  private readonly perPeer = new WeakMap<Lease, WireguardPeerGroup>();

  constructor(private readonly context: WireguardPlannerContext) {
    const { config, externalInterface: ext, options, privateKey, implementation } = context;
    this.mtu = (options.mtu ?? ext.mtu) - WIREGUARD_OVERHEAD;
    this.publicKey = privateKey.publicKey();
    this.devices = wireguardDevices(options.mode, config, options).map(({ name, listenPort }) => ({ kind: 'wireguard', implementation, name, mtu: this.mtu, listenPort, privateKey }));
    const carrying = (family: 4 | 6) => wireguardDevices(options.mode, config, options).find((d) => (family === 4 ? d.carriesIpv4 : d.carriesIpv6))?.name;
    this.v4Device = this.devices.find((device) => device.name === carrying(4));
    this.v6Device = this.devices.find((device) => device.name === carrying(6));
    this.leaseAttrs = {
      publicIP: ext.extAddr ?? UNSET_IPV4,
      backendType: WIREGUARD,
      ...(ext.extV6Addr ? { publicIPv6: ext.extV6Addr } : {}),
      ...(this.v4Device ? { backendData: wireguardBackendData(this.publicKey, this.v4Device.listenPort) } : {}),
      ...(this.v6Device ? { backendV6Data: wireguardBackendData(this.publicKey, this.v6Device.listenPort) } : {}),
    };
    const routes: Route[] = [];
    if (this.v4Device && config.network) routes.push(networkRoute(config.network, this.v4Device.name));
    if (this.v6Device && config.ipv6Network) routes.push(networkRoute(config.ipv6Network, this.v6Device.name));
    this.networkGroup = { network: true, routes, neighbours: [], wireguardPeers: [], warnings: [] };
  }

  /** Pure: same leases (objects), same plan. */
  plan(own: Lease, peers: readonly Lease[]): WireguardPlan {
    const addresses: DesiredAddress[] = [];
    if (this.v4Device && hasIpv4(own)) addresses.push({ linkName: this.v4Device.name, address: Cidr.of(own.subnet.ip, 32) });
    if (this.v6Device && own.ipv6Subnet) addresses.push({ linkName: this.v6Device.name, address: Cidr.of(own.ipv6Subnet.ip, 128) });
    const groups: WireguardPeerGroup[] = [this.networkGroup];
    const warnings: string[] = [];
    const keyHolders = new Map<string, string>();
    for (const peer of peers) {
      let planned = this.perPeer.get(peer);
      if (!planned) this.perPeer.set(peer, (planned = this.planPeer(peer)));
      warnings.push(...planned.warnings);
      const keys = planned.wireguardPeers.map((wg) => `${wg.linkName}|${wg.publicKey.toString()}`);
      const clash = keys.map((key) => keyHolders.get(key)).find((holder) => holder !== undefined);
      if (clash) {
        warnings.push(`wireguard: peers ${clash} and ${peer.subnet} publish the same PublicKey; ${peer.subnet} skipped`);
        continue;
      }
      for (const key of keys) keyHolders.set(key, peer.subnet.toString());
      if (planned.wireguardPeers.length > 0) groups.push(planned);
    }
    return { devices: this.devices, addresses, groups, warnings };
  }

  /** Pure, O(1): why a peer lease cannot be a WireGuard peer of ours, or undefined. */
  checkPeer(peer: Lease): LeaseProblem | undefined {
    if (peer.attrs.backendType !== WIREGUARD) return { field: 'BackendType', value: JSON.stringify(peer.attrs.backendType), reason: 'not wireguard' };
    for (const [wanted, field, value] of this.dataFields(peer)) {
      if (!wanted) continue;
      const data = decodeWireguardLeaseData(value, field);
      if (isLeaseProblem(data)) return data;
      if (data.publicKey.equals(this.publicKey)) return { field: `${field}.PublicKey`, value: JSON.stringify(data.publicKey.toString()), reason: 'our own public key (two hosts share one key file?)' };
    }
    return undefined;
  }

  /** [needed, field name, value] of BackendData and BackendV6Data for this peer. */
  private dataFields(peer: Lease): Array<[boolean, string, unknown]> {
    return [
      [this.v4Device !== undefined && hasIpv4(peer), 'BackendData', peer.attrs.backendData],
      [this.v6Device !== undefined && peer.ipv6Subnet !== undefined, 'BackendV6Data', peer.attrs.backendV6Data],
    ];
  }

  private planPeer(peer: Lease): WireguardPeerGroup {
    const warnings: string[] = [];
    const wireguardPeers: DesiredWireguardPeer[] = [];
    const group = { routes: [], neighbours: [], wireguardPeers, warnings };
    if (peer.attrs.backendType !== WIREGUARD) {
      warnings.push(`ignoring peer ${peer.subnet}: backend type ${JSON.stringify(peer.attrs.backendType)} is not wireguard`);
      return group;
    }
    const [[v4Wanted, v4Field, v4Value], [v6Wanted, v6Field, v6Value]] = this.dataFields(peer) as [[boolean, string, unknown], [boolean, string, unknown]];
    const decode = (wanted: boolean, field: string, value: unknown): WireguardLeaseData | undefined => {
      if (!wanted) return undefined;
      const data = decodeWireguardLeaseData(value, field);
      if (!isLeaseProblem(data)) return data;
      warnings.push(`wireguard: peer ${peer.subnet} has no usable ${data.field} (${data.value}: ${data.reason}); not configured`);
      return undefined;
    };
    const v4 = decode(v4Wanted, v4Field, v4Value);
    const v6 = decode(v6Wanted, v6Field, v6Value);
    if ((v4Wanted && !v4) || (v6Wanted && !v6)) return group;
    const { options } = this.context;
    const common = { persistentKeepaliveSeconds: options.persistentKeepaliveSeconds, ...(options.psk ? { presharedKey: options.psk } : {}) };
    const v4Endpoint = (device: WireguardDeviceConfig) => endpoint(hasIpv4(peer) ? peer.attrs.publicIP : undefined, v4?.port || device.listenPort);
    const v6Endpoint = (device: WireguardDeviceConfig) => endpoint(peer.attrs.publicIPv6, v6?.port || device.listenPort);
    const add = (device: WireguardDeviceConfig, data: WireguardLeaseData, allowedIps: Cidr[], chosen: WireguardEndpoint | undefined, family: 4 | 6) => {
      if (!chosen) warnings.push(`wireguard: peer ${peer.subnet} publishes no IPv${family} address for ${device.name}; configured without an endpoint (it can still reach us)`);
      wireguardPeers.push({ linkName: device.name, publicKey: data.publicKey, ...common, allowedIps, ...(chosen ? { endpoint: chosen } : {}) });
    };
    if (options.mode === 'separate') {
      if (this.v4Device && v4) add(this.v4Device, v4, [peer.subnet], v4Endpoint(this.v4Device), 4);
      if (this.v6Device && v6 && peer.ipv6Subnet) add(this.v6Device, v6, [peer.ipv6Subnet], v6Endpoint(this.v6Device), 6);
      return group;
    }
    const device = this.devices[0];
    const data = v6 ?? v4; // upstream takes the IPv6 data's key when the lease has both
    if (!device || !data) return group;
    const allowedIps = [...(v4 ? [peer.subnet] : []), ...(v6 && peer.ipv6Subnet ? [peer.ipv6Subnet] : [])];
    const family = options.mode === 'ipv4' ? 4 : options.mode === 'ipv6' ? 6 : this.selectFamily(peer);
    add(device, data, allowedIps, family === 4 ? v4Endpoint(device) : v6Endpoint(device), family);
    return group;
  }

  /**
   * Upstream's `selectMode` for Mode auto: IPv4 when the peer has no IPv6 address, or a non-RFC 1918 IPv4 one
   * and we have an IPv4 address; IPv6 when both its and our IPv6 addresses are not ULA; else IPv4. A peer
   * without an IPv4 address (IPv6-only) gets IPv6 (upstream would dial 0.0.0.0).
   */
  private selectFamily(peer: Lease): 4 | 6 {
    const ext = this.context.externalInterface;
    const ip4 = peer.attrs.publicIP;
    const ip6 = peer.attrs.publicIPv6;
    if (!ip6) return 4;
    if (ip4.isUnspecified()) return 6;
    if (!isRfc1918(ip4) && ext.extAddr) return 4;
    if (!isUpstreamPrivate6(ip6) && ext.extV6Addr && !isUpstreamPrivate6(ext.extV6Addr)) return 6;
    return 4;
  }
}

function endpoint(ip: IpAddress | undefined, port: number): WireguardEndpoint | undefined {
  return ip && !ip.isUnspecified() ? { ip, port } : undefined;
}

function networkRoute(network: Cidr, linkName: string): Route {
  return { dst: network.masked(), linkName, table: MAIN_TABLE, protocol: FLANNEL_ROUTE_PROTOCOL, type: 'unicast', onlink: false, scope: RT_SCOPE_LINK };
}

/** 10/8, 172.16/12, 192.168/16 (upstream's ip.IP4.IsPrivate). */
export function isRfc1918(ip: IpAddress): boolean {
  const value = Number(ip.value);
  const a = value >>> 24;
  const b = (value >>> 16) & 0xff;
  return a === 10 || (a === 172 && (b & 0xf0) === 16) || (a === 192 && b === 168);
}

/**
 * Upstream's ip.IP6.IsPrivate: fc00::/7 tested on the first byte of `big.Int.Bytes()`, which drops leading zero
 * bytes — so it looks at the first non-zero byte (same answer for every real public or ULA address).
 */
export function isUpstreamPrivate6(ip: IpAddress): boolean {
  const first = ip.toBytes().find((byte) => byte !== 0);
  return first !== undefined && (first & 0xfe) === 0xfc;
}
