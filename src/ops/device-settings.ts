/**
 * A backend device's settings as `flannelctl status` shows them: what the plan wants (`wantedSettings`) and what
 * the kernel's link of that name has (`linkSettings`), under the same keys so that the status document can name
 * each difference (`mtu: wanted 1450, kernel has 1500`). Pure. Only the settings the reconciler keeps are
 * listed: the link kind, MTU, up flag, and per kind its identity (VXLAN VNI, port, local address, learning,
 * GBP, MAC; IPIP local address).
 */
import type { Device } from '../dataplane/devices.js';
import { linkKindOf } from '../dataplane/devices.js';
import type { Link } from '../dataplane/kernel-objects.js';
import type { DeviceFacts, SettingValue } from './status-document.js';

type Settings = Record<string, SettingValue>;

export function wantedSettings(device: Device): Settings {
  const settings: Settings = { kind: linkKindOf(device), mtu: device.mtu, up: true };
  if (device.kind === 'vxlan') {
    Object.assign(settings, { vni: device.vni, port: device.port, learning: device.learning, gbp: device.gbp, mac: device.mac.toString() });
    if (device.local) settings.local = device.local.toString();
  }
  if (device.kind === 'ipip' && device.local) settings.local = device.local.toString();
  return settings;
}

/** The same keys as `wantedSettings(device)`, read from the kernel's link (a key the link does not report is left out). */
export function linkSettings(link: Link, device: Device): Settings {
  const settings: Settings = { mtu: link.mtu, up: link.up };
  if (link.kind !== undefined) settings.kind = link.kind;
  const put = (key: string, value: SettingValue | undefined) => {
    if (value !== undefined) settings[key] = value;
  };
  if (device.kind === 'vxlan') {
    put('vni', link.vxlan?.vni);
    put('port', link.vxlan?.port);
    put('learning', link.vxlan?.learning);
    put('gbp', link.vxlan?.gbp);
    put('mac', link.mac?.toString());
    put('local', link.vxlan?.local?.toString());
  }
  if (device.kind === 'ipip') put('local', link.ipip?.local?.toString());
  return settings;
}

/** The plan's devices, each with its kernel link's settings (absent when the kernel has no link of that name). */
export function deviceFacts(devices: readonly Device[], links: readonly Link[]): DeviceFacts[] {
  return devices.map((device) => {
    const link = links.find((candidate) => candidate.name === device.name);
    return { name: device.name, kind: device.kind, wanted: wantedSettings(device), ...(link ? { actual: linkSettings(link, device) } : {}) };
  });
}
