/**
 * The wireguard backend (reference §5.5): the planner (devices, our /32 and /128, the scope-link Network routes,
 * one desired peer per lease and device) plus the data path that keeps the devices' keys and peers as planned.
 *
 * At start, through the WireguardPort: the implementation is chosen from Backend.Implementation and what the
 * host offers (`auto`: the kernel's WireGuard when it answers on generic netlink, else wireguard-go, as wg-quick
 * falls back), and the private key is read from the key file or the file is created (0400), so the public key
 * can be published in the lease. Both choices are logged at start (`backend selected` carries the options,
 * `wireguard implementation` names the implementation, the key file and the public key).
 *
 * Differences from upstream, each a repair: an existing `flannel-wg` is kept and re-configured, not deleted and
 * re-created (traffic keeps flowing across a restart); peers are read back and repaired every few seconds
 * (upstream never looks again); devices are left in place on shutdown with the kernel implementation (upstream
 * deletes them), while a wireguard-go we started stops with us.
 */
import { ValidationError } from '../../support/errors.js';
import type { Backend, BackendContext } from '../backend.js';
import { requireAdapter } from '../data-path-ports.js';
import { WIREGUARD_RESYNC_MS, wireguardDataPath } from './wireguard-data-path.js';
import { chooseWireguardImplementation } from './wireguard-implementation.js';
import { WIREGUARD, checkWireguardConfig, parseWireguardOptions } from './wireguard-options.js';
import { WireguardPlanner } from './wireguard-planner.js';

/** `resyncMs`: how often the data path reads the devices back without a trigger (tests shorten it). */
export function createWireguardBackend({ config, externalInterface: ext, adapters = {} }: BackendContext, tuning: { resyncMs?: number } = {}): Backend {
  const problems = checkWireguardConfig(config, { name: ext.name, mtu: ext.mtu });
  if (problems.length > 0) throw new ValidationError(problems, 'wireguard backend config');
  const options = parseWireguardOptions(config.backend);
  const port = requireAdapter(adapters, 'wireguard', WIREGUARD);
  const support = port.hostSupport();
  const implementation = chooseWireguardImplementation(options.implementation, support);
  const key = port.loadPrivateKey();
  const planner = new WireguardPlanner({ config, externalInterface: ext, options, privateKey: key.privateKey, implementation });
  return {
    type: WIREGUARD,
    mtu: planner.mtu,
    leaseAttrs: planner.leaseAttrs,
    devices: planner.devices,
    // The PSK is a secret: say whether there is one, never what it is.
    options: {
      listenPort: options.listenPort, listenPortV6: options.listenPortV6, mode: options.mode,
      persistentKeepaliveSeconds: options.persistentKeepaliveSeconds, psk: options.psk !== undefined,
      ...(options.mtu !== undefined ? { mtu: options.mtu } : {}),
      implementation: options.implementation === implementation ? implementation : `${options.implementation}: ${implementation}`,
    },
    plan: (own, peers) => planner.plan(own, peers),
    checkPeer: (peer) => planner.checkPeer(peer),
    runDataPath: wireguardDataPath({
      planner, implementation, key, resyncMs: tuning.resyncMs ?? WIREGUARD_RESYNC_MS,
      ...(support.userspaceCommand ? { userspaceCommand: support.userspaceCommand } : {}),
    }),
  };
}
