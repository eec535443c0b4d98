/**
 * The devices a backend can ask for, as a tagged union, and the rules the reconciler applies to each kind.
 * Pure data and pure functions.
 *
 * Every device has identity settings (a link that differs in one of them cannot be fixed in place: it is
 * deleted and, if the reconciler creates this kind, created again) and in-place settings (MTU, MAC where the
 * kind has one, the up flag), which the reconciler corrects on the existing link. Adding a kind means adding
 * one entry to DEVICE_RULES (and its encoder in the netlink adapter and its constructor in MemoryKernel if the
 * reconciler creates it).
 *
 * Who creates a device:
 * - the reconciler, through the Kernel port (LinkOp `create`): vxlan, ipip, kernel wireguard;
 * - a backend's data path (Backend.runDataPath): the udp backend's TUN exists only while its descriptor is
 *   open, so its data path creates it and creates it again when it is deleted; wireguard-go creates its own TUN.
 *   The reconciler never creates these: it waits for them (they are "not in place" until they exist), and
 *   once they exist it owns their addresses, MTU, up flag, routes and neighbours like any other device's.
 */
import type { IpAddress } from '../net/ip.js';
import type { MacAddress } from '../net/mac.js';
import type { Link } from './kernel-objects.js';

interface DeviceBase {
  readonly name: string;
  /** In place. */
  readonly mtu: number;
}

/** `flannel.<VNI>` / `flannel-v6.<VNI>`. Identity: VNI, port, local address, underlay, learning, GBP. MAC in place. */
export interface VxlanDevice extends DeviceBase {
  readonly kind: 'vxlan';
  readonly vni: number;
  readonly port: number;
  readonly local?: IpAddress;
  readonly underlayIndex?: number;
  readonly learning: boolean;
  readonly gbp: boolean;
  readonly mac: MacAddress;
}

/** The udp backend's `flannel0` (IFF_TUN|IFF_NO_PI), created by its data path. Identity: a TUN, not a TAP. */
export interface TunDevice extends DeviceBase {
  readonly kind: 'tun';
}

/**
 * `flannel-wg` / `flannel-wg-v6`. `kernel`: a wireguard link the reconciler creates (keys and peers are the
 * data path's, through a WireguardDevicePort); `userspace`: wireguard-go, started by the data path, which
 * creates a TUN of that name.
 */
export interface WireguardDevice extends DeviceBase {
  readonly kind: 'wireguard';
  readonly implementation: 'kernel' | 'userspace';
}

/** `flannel.ipip` (`ip link add flannel.ipip type ipip local <iface address>`, any remote). Identity: local, underlay. */
export interface IpipDevice extends DeviceBase {
  readonly kind: 'ipip';
  readonly local?: IpAddress;
  readonly underlayIndex?: number;
}

export type Device = VxlanDevice | TunDevice | WireguardDevice | IpipDevice;
export type DeviceKind = Device['kind'];

/** Devices the reconciler creates itself (the only ones a LinkOp `create` carries). */
export type KernelCreatedDevice = VxlanDevice | IpipDevice | (WireguardDevice & { readonly implementation: 'kernel' });

/** The MTU, MAC and up flag to set on an existing link (only what differs). */
export interface InPlaceChange {
  readonly mtu?: number;
  readonly mac?: MacAddress;
  readonly up?: boolean;
}

interface DeviceRules<D extends Device> {
  /** IFLA_INFO_KIND of the link that implements the device. */
  readonly linkKind: (device: D) => string;
  readonly createdByReconciler: (device: D) => boolean;
  /** Identity settings that differ, in words (empty: the link can be kept); the link kind is already checked. */
  readonly identity: (device: D, link: Link) => string[];
  /** The MAC the device must carry, for kinds that have one. */
  readonly mac?: (device: D) => MacAddress;
}

type RulesByKind = { readonly [K in DeviceKind]: DeviceRules<Extract<Device, { kind: K }>> };

const DEVICE_RULES: RulesByKind = {
  vxlan: {
    linkKind: () => 'vxlan',
    createdByReconciler: () => true,
    identity(device, link) {
      const actual = link.vxlan;
      if (!actual) return ['vxlan attributes unknown'];
      const differences = new Differences();
      differences.compare('vni', device.vni, actual.vni);
      differences.compare('port', device.port, actual.port);
      differences.compare('local', device.local?.toString(), actual.local?.toString());
      if (device.underlayIndex !== undefined) differences.compare('underlay device', device.underlayIndex, actual.underlayIndex);
      differences.compare('learning', device.learning, actual.learning ?? false);
      differences.compare('gbp', device.gbp, actual.gbp);
      return differences.list;
    },
    mac: (device) => device.mac,
  },
  tun: {
    linkKind: () => 'tun',
    createdByReconciler: () => false,
    identity: (_device, link) => (link.tun?.type === 'tap' ? ['a TAP device (want TUN)'] : []),
  },
  wireguard: {
    // wireguard-go's device is a TUN as far as the kernel is concerned.
    linkKind: (device) => (device.implementation === 'kernel' ? 'wireguard' : 'tun'),
    createdByReconciler: (device) => device.implementation === 'kernel',
    identity: () => [],
  },
  ipip: {
    linkKind: () => 'ipip',
    createdByReconciler: () => true,
    identity(device, link) {
      const actual = link.ipip ?? {};
      const differences = new Differences();
      if (device.local) differences.compare('local', device.local.toString(), actual.local?.toString());
      // Any remote: a fixed remote would make it a point-to-point tunnel to one host.
      if (actual.remote && !actual.remote.isUnspecified()) differences.list.push(`remote ${actual.remote} (want any)`);
      if (device.underlayIndex !== undefined) differences.compare('underlay device', device.underlayIndex, actual.underlayIndex ?? 0);
      return differences.list;
    },
  },
};

class Differences {
  readonly list: string[] = [];
  compare(name: string, want: unknown, have: unknown): void {
    if (String(want) !== String(have)) this.list.push(`${name} ${String(have)} (want ${String(want)})`);
  }
}

function rulesOf<D extends Device>(device: D): DeviceRules<D> {
  return DEVICE_RULES[device.kind] as unknown as DeviceRules<D>;
}

/** The IFLA_INFO_KIND of the link that implements `device`. */
export function linkKindOf(device: Device): string {
  return rulesOf(device).linkKind(device);
}

/** True for the kinds the reconciler creates; false for those a data path creates (the reconciler waits). */
export function createdByReconciler(device: Device): device is KernelCreatedDevice {
  return rulesOf(device).createdByReconciler(device);
}

/** Settings that differ between a wanted device and an existing link of its name (empty: keep the link). */
export function incompatibilities(device: Device, link: Link): string[] {
  const want = linkKindOf(device);
  if (link.kind !== want) return [`type ${link.kind ?? 'unknown'} (want ${want})`];
  return rulesOf(device).identity(device, link);
}

/** What to correct in place on a compatible link; undefined when it already is as wanted. */
export function inPlaceChange(device: Device, link: Link): InPlaceChange | undefined {
  const mtu = link.mtu !== device.mtu ? device.mtu : undefined;
  const wantMac = rulesOf(device).mac?.(device);
  const mac = wantMac && !wantMac.equals(link.mac) ? wantMac : undefined;
  if (mtu === undefined && mac === undefined && link.up) return undefined;
  return { ...(mtu === undefined ? {} : { mtu }), ...(mac ? { mac } : {}), up: true };
}

/** True when `link` is the device as wanted: compatible, and MTU, MAC and up flag in place. */
export function deviceSatisfied(link: Link, device: Device): boolean {
  return incompatibilities(device, link).length === 0 && inPlaceChange(device, link) === undefined;
}

/**
 * The names flannel-ts gives its devices, with the link kinds each may have. A link that matches one is a
 * flannel-ts device *candidate*; whether a running flanneld owns it is the Ownership rule's question.
 */
const FLANNEL_DEVICE_NAMES: ReadonlyArray<{ readonly pattern: RegExp; readonly kinds: readonly string[] }> = [
  { pattern: /^flannel(-v6)?\.\d+$/, kinds: ['vxlan'] },
  { pattern: /^flannel\d+$/, kinds: ['tun'] },
  { pattern: /^flannel-wg(-v6)?$/, kinds: ['wireguard', 'tun'] },
  { pattern: /^flannel\.ipip$/, kinds: ['ipip'] },
];

/** True when the link has a name flannel-ts gives its devices and a kind that name may have. */
export function isFlannelDevice(link: Pick<Link, 'name' | 'kind'>): boolean {
  return FLANNEL_DEVICE_NAMES.some((entry) => entry.pattern.test(link.name) && entry.kinds.includes(link.kind ?? ''));
}

/** One line for logs: `flannel.1 (vxlan id 1 dstport 8472)`. */
export function describeDevice(device: Device): string {
  switch (device.kind) {
    case 'vxlan':
      return `${device.name} (vxlan id ${device.vni} dstport ${device.port})`;
    case 'wireguard':
      return `${device.name} (wireguard, ${device.implementation})`;
    default:
      return `${device.name} (${device.kind})`;
  }
}
