/**
 * Clean uninstall of one host (`flannelctl uninstall`, with flanneld stopped): removes the firewall rules of both
 * modes and both families, then reconciles the kernel to nothing — the Reconciler with an empty desired state
 * and the EVERYTHING ownership (every protocol-111 route, every flannel-ts device of any backend, whatever
 * network it served), so there is one kernel writer and one notion of "ours". A device's addresses, routes and
 * neighbour/FDB entries go with it. Nothing else is touched. Reports what it removed and what failed, and keeps
 * going past failures so one missing tool does not leave the rest behind.
 */
import { EMPTY_DESIRED_STATE } from '../dataplane/desired-state.js';
import type { Kernel } from '../dataplane/kernel.js';
import { EVERYTHING } from '../dataplane/ownership.js';
import { Reconciler } from '../dataplane/reconciler.js';
import { errorMessage } from '../support/errors.js';
import { type Logger, silentLogger } from '../support/logger.js';
import type { Firewall } from '../traffic/firewall.js';

export interface UninstallReport {
  readonly routes: number;
  readonly devices: readonly string[];
  readonly firewalls: readonly string[];
  readonly problems: readonly string[];
}

export async function uninstall(kernel: Kernel, firewalls: readonly Firewall[], logger: Logger = silentLogger()): Promise<UninstallReport> {
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
  const reconciler = new Reconciler({ kernel, plan: () => EMPTY_DESIRED_STATE, ownership: EVERYTHING, logger });
  const result = await reconciler.reconcileOnce();
  problems.push(...result.failures);
  return { routes: result.removedRoutes, devices: result.removedDevices, firewalls: cleaned, problems };
}
