/**
 * Clean uninstall of one host (`flannelctl uninstall`, with flanneld stopped): removes the firewall rules of both
 * modes and both families, every route flannel-ts owns (protocol 111, blackhole included) and its VXLAN devices
 * (their neighbour and FDB entries go with them). Nothing else is touched. Reports what it removed and what
 * failed, and keeps going past failures so one missing tool does not leave the rest behind.
 */
import { FLANNEL_ROUTE_PROTOCOL } from '../dataplane/kernel-objects.js';
import type { Kernel } from '../dataplane/kernel.js';
import { errorMessage } from '../support/errors.js';
import type { Firewall } from '../traffic/firewall.js';

const OUR_DEVICE = /^flannel(-v6)?\.\d+$/;

export interface UninstallReport {
  readonly routes: number;
  readonly devices: readonly string[];
  readonly firewalls: readonly string[];
  readonly problems: readonly string[];
}

export async function uninstall(kernel: Kernel, firewalls: readonly Firewall[]): Promise<UninstallReport> {
  const problems: string[] = [];
  const cleaned: string[] = [];
  for (const firewall of firewalls) {
    for (const family of [4, 6] as const) {
      try {
        await firewall.remove(family);
        cleaned.push(`${firewall.mode} IPv${family}`);
      } catch (error) {
        problems.push(`${firewall.mode} IPv${family}: ${errorMessage(error)}`);
      }
    }
  }
  const routes = (await kernel.listRoutes()).filter((route) => route.protocol === FLANNEL_ROUTE_PROTOCOL);
  const routeFailures = await kernel.applyRouteOps(routes.map((route) => ({ kind: 'delete' as const, route })));
  problems.push(...routeFailures.map((failure) => failure.error.message));
  const devices = (await kernel.listLinks()).filter((link) => link.kind === 'vxlan' && OUR_DEVICE.test(link.name));
  const deviceFailures = await kernel.applyLinkOps(devices.map((link) => ({ kind: 'delete' as const, index: link.index, name: link.name })));
  problems.push(...deviceFailures.map((failure) => failure.error.message));
  return { routes: routes.length - routeFailures.length, devices: devices.map((link) => link.name), firewalls: cleaned, problems };
}
