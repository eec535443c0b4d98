/**
 * The extension backend's hooks over the ExtensionHookPort (the runner adapter executes them): `startup` runs a PreStartup or
 * PostStartup hook and fails with upstream's message (`failed to run command: … Err: … Output: …`), which is
 * fatal as upstream; `update(peers)` runs SubnetRemove for every lease that went away and SubnetAdd for every
 * new or changed one, one at a time in that order, logging each (failures are logged and the next hook runs,
 * as upstream). Calls to `update` are serialized: a hook never runs concurrently with another.
 */
import { describeLeaseProblem } from '../../lease/lease-validation.js';
import type { Lease } from '../../lease/lease.js';
import { FlannelError } from '../../support/errors.js';
import type { Logger } from '../../support/logger.js';
import type { ExtensionHookPort, ExtensionHookResult } from '../data-path-ports.js';
import type { HookInvocation } from './extension-hooks.js';
import { hookFailureMessage, peerChanges, subnetInvocation } from './extension-hooks.js';
import type { ExtensionOptions } from './extension-options.js';

export interface ExtensionPeerHooksOptions {
  readonly options: ExtensionOptions;
  readonly logger: Logger;
  /** Runs the hooks; its environment is what hooks start from and expand variables with. */
  readonly hooks: ExtensionHookPort;
  /** Kill a hook after this long (upstream waits forever). */
  readonly timeoutMs?: number;
}

export class ExtensionPeerHooks {
  private previous = new Map<string, Lease>();
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly context: ExtensionPeerHooksOptions) {}

  /** Runs a startup hook; resolves with its output, or throws FlannelError('EXTENSION_HOOK') with upstream's text. */
  async startup(invocation: HookInvocation, signal?: AbortSignal): Promise<string> {
    const result = await this.execute(invocation, signal);
    if (!result.ok) throw new FlannelError('EXTENSION_HOOK', hookFailureMessage(invocation, result.error ?? 'failed', result.output));
    return result.output;
  }

  /** Brings the hooks up to date with the current peer leases (serialized with earlier calls). */
  update(peers: readonly Lease[], signal?: AbortSignal): Promise<void> {
    // A failed call must not stop the ones queued after it.
    this.queue = this.queue.catch(() => undefined).then(() => this.apply(peers, signal));
    return this.queue;
  }

  private async apply(peers: readonly Lease[], signal: AbortSignal | undefined): Promise<void> {
    const { added, removed, current } = peerChanges(this.previous, peers);
    this.previous = current;
    const { logger, options } = this.context;
    const environment = this.context.hooks.environment;
    for (const [hook, lease] of [...removed.map((lease) => ['SubnetRemove', lease] as const), ...added.map((lease) => ['SubnetAdd', lease] as const)]) {
      if (signal?.aborted) return;
      logger.info({ hook, subnet: lease.subnet.toString(), publicIP: lease.attrs.publicIP.toString() }, hook === 'SubnetAdd' ? 'subnet added' : 'subnet removed');
      const invocation = subnetInvocation(hook, options, environment, lease);
      if (!invocation) continue;
      if ('reason' in invocation) {
        logger.error({ hook, subnet: lease.subnet.toString(), problem: describeLeaseProblem(invocation) }, 'failed to unmarshal BackendData');
        continue;
      }
      const result = await this.execute(invocation, signal);
      if (result.ok) logger.info({ command: invocation.command, output: result.output }, 'ran command');
      else logger.error({ command: invocation.command, error: result.error, output: result.output }, 'failed to run command');
    }
  }

  private execute(invocation: HookInvocation, signal?: AbortSignal): Promise<ExtensionHookResult> {
    return this.context.hooks.run(invocation, {
      ...(this.context.timeoutMs !== undefined ? { timeoutMs: this.context.timeoutMs } : {}),
      ...(signal ? { signal } : {}),
    });
  }
}
