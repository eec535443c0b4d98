/**
 * The extension backend (reference §5.8), run as upstream runs it: PreStartupCommand before the lease (its
 * trimmed output is published as BackendData, a JSON string; failure is fatal), PostStartupCommand once the
 * lease is held (NETWORK, SUBNET, IPV6SUBNET, PUBLIC_IP, PUBLIC_IPV6; failure is fatal), then for every peer
 * lease of type "extension" SubnetAddCommand when it appears or changes and SubnetRemoveCommand when it goes
 * (SUBNET, PUBLIC_IP, the peer's BackendData on stdin; failures are logged). No kernel state of its own: the
 * commands build the network, and flannel-ts leaves what they make alone (only protocol-111 routes are its).
 * FLANNEL_MTU is the interface MTU.
 *
 * Peer leases of another backend type, or whose BackendData is not a JSON string, are rejected at admission
 * with the field and value named (upstream logs "Ignoring non-extension subnet" / "failed to unmarshal
 * BackendData" and runs nothing for them — neither do we).
 */
import { EMPTY_DESIRED_STATE } from '../../dataplane/desired-state.js';
import type { Lease } from '../../lease/lease.js';
import type { LeaseProblem } from '../../lease/lease-validation.js';
import type { Backend, BackendContext } from '../backend.js';
import { requireAdapter } from '../data-path-ports.js';
import { extensionLeaseAttrs, postStartupInvocation, preStartupInvocation } from './extension-hooks.js';
import { EXTENSION, parseExtensionOptions } from './extension-options.js';
import { ExtensionPeerHooks } from './extension-peer-hooks.js';

export function createExtensionBackend({ config, externalInterface: ext }: BackendContext): Backend {
  const options = parseExtensionOptions(config.backend);
  return {
    type: EXTENSION,
    mtu: ext.mtu,
    leaseAttrs: extensionLeaseAttrs(ext, undefined),
    options,
    async prepareLease({ adapters, logger }, signal) {
      const port = requireAdapter(adapters, 'extensionHooks', EXTENSION);
      const invocation = preStartupInvocation(options, port.environment);
      if (!invocation) {
        logger.info('no pre startup command configured; skipping');
        return extensionLeaseAttrs(ext, undefined);
      }
      const output = await new ExtensionPeerHooks({ options, logger, hooks: port }).startup(invocation, signal);
      logger.info({ command: invocation.command, output }, 'ran command');
      return extensionLeaseAttrs(ext, output);
    },
    plan: () => EMPTY_DESIRED_STATE,
    checkPeer(peer: Lease): LeaseProblem | undefined {
      if (peer.attrs.backendType !== EXTENSION) return { field: 'BackendType', value: JSON.stringify(peer.attrs.backendType), reason: 'not extension' };
      const data = peer.attrs.backendData;
      if (data !== undefined && data !== null && typeof data !== 'string') return { field: 'BackendData', value: JSON.stringify(data), reason: 'expected a JSON string (the output of the peer\'s PreStartupCommand)' };
      return undefined;
    },
    async runDataPath(context, signal) {
      const port = requireAdapter(context.adapters, 'extensionHooks', EXTENSION);
      const hooks = new ExtensionPeerHooks({ options, logger: context.logger, hooks: port });
      const post = postStartupInvocation(options, port.environment, { config, own: context.leases.current().own });
      if (post) {
        const output = await hooks.startup(post, signal);
        context.logger.info({ command: post.command, output }, 'ran command');
      } else {
        context.logger.info('no post startup command configured; skipping');
      }
      context.logger.info('watching for new subnet leases');
      for await (const { peers } of context.leases.changes(signal)) await hooks.update(peers, signal);
    },
  };
}
