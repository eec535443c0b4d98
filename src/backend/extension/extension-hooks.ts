/**
 * What the extension backend runs, exactly as upstream's code runs it (reference §5.8; CODE≠DOC where marked),
 * as plain data: each hook becomes an invocation (argv after splitting and `$VAR` expansion, the extra
 * environment, stdin) that the runner adapter executes. Pure.
 *
 * - PreStartup (before the lease): no extra variables, stdin "\n"; its trimmed output becomes BackendData as a
 *   JSON string. Failure is fatal.
 * - PostStartup (after the lease): NETWORK, SUBNET, IPV6SUBNET, PUBLIC_IP, PUBLIC_IPV6 — Go's formatting of
 *   missing values kept (`0.0.0.0/0`, `::/0`, `0.0.0.0`, `<nil>`), scripts may test for them. Failure is fatal.
 * - SubnetAdd / SubnetRemove (per peer lease with BackendType "extension"): only SUBNET and PUBLIC_IP (CODE≠DOC:
 *   the docs also list IPV6SUBNET and PUBLIC_IPV6), stdin = the peer's BackendData decoded as a JSON string
 *   plus "\n". Failure is logged; the next event runs regardless.
 * - PUBLIC_IP in our lease is the interface address (CODE: IfaceAddr, not --public-ip).
 *
 * Variables are looked up in the process environment overlaid with the hook's own (upstream's buildEnvMap);
 * the child's environment is the process environment plus the hook's variables.
 */
import type { NetworkConfig } from '../../config/network-config.js';
import { type Lease, type LeaseAttrs, UNSET_IPV4, leaseKey, sameLease } from '../../lease/lease.js';
import type { LeaseProblem } from '../../lease/lease-validation.js';
import type { ExternalInterface } from '../backend.js';
import { expandCommand } from './go-command-line.js';
import { EXTENSION, type ExtensionOptions } from './extension-options.js';

export type ExtensionHook = 'PreStartup' | 'PostStartup' | 'SubnetAdd' | 'SubnetRemove';

export interface HookInvocation {
  readonly hook: ExtensionHook;
  /** The command as configured (upstream's error and log messages quote it unexpanded). */
  readonly command: string;
  readonly argv: readonly string[];
  /** The hook's own variables, added to the process environment. */
  readonly env: Readonly<Record<string, string>>;
  readonly stdin: string;
}

type Environment = Readonly<Record<string, string | undefined>>;

function invocation(hook: ExtensionHook, command: string, environment: Environment, env: Record<string, string>, stdin: string): HookInvocation | undefined {
  if (command === '') return undefined;
  return { hook, command, argv: expandCommand(command, { ...environment, ...env }), env, stdin: `${stdin}\n` };
}

export function preStartupInvocation(options: ExtensionOptions, environment: Environment): HookInvocation | undefined {
  return invocation('PreStartup', options.preStartupCommand, environment, {}, '');
}

export function postStartupInvocation(
  options: ExtensionOptions,
  environment: Environment,
  context: { config: Pick<NetworkConfig, 'network'>; own: Lease },
): HookInvocation | undefined {
  const { own } = context;
  return invocation('PostStartup', options.postStartupCommand, environment, {
    NETWORK: context.config.network?.toString() ?? '0.0.0.0/0',
    SUBNET: own.subnet.toString(),
    IPV6SUBNET: own.ipv6Subnet?.toString() ?? '::/0',
    PUBLIC_IP: own.attrs.publicIP.toString(),
    PUBLIC_IPV6: own.attrs.publicIPv6?.toString() ?? '<nil>',
  }, '');
}

/** SubnetAdd/SubnetRemove for a peer; a problem when its BackendData is not a JSON string (upstream skips it). */
export function subnetInvocation(hook: 'SubnetAdd' | 'SubnetRemove', options: ExtensionOptions, environment: Environment, peer: Lease): HookInvocation | LeaseProblem | undefined {
  const command = hook === 'SubnetAdd' ? options.subnetAddCommand : options.subnetRemoveCommand;
  if (command === '' || peer.attrs.backendType !== EXTENSION) return undefined;
  const data = peer.attrs.backendData;
  if (data !== undefined && typeof data !== 'string') return { field: 'BackendData', value: JSON.stringify(data), reason: 'expected a JSON string (the PreStartupCommand output of the peer)' };
  return invocation(hook, command, environment, { SUBNET: peer.subnet.toString(), PUBLIC_IP: peer.attrs.publicIP.toString() }, data ?? '');
}

/** Our lease: BackendType "extension", the PreStartup output as BackendData, the interface addresses. */
export function extensionLeaseAttrs(ext: Pick<ExternalInterface, 'ifaceAddr' | 'ifaceV6Addr'>, preStartupOutput: string | undefined): LeaseAttrs {
  return {
    publicIP: ext.ifaceAddr?.ip ?? UNSET_IPV4,
    backendType: EXTENSION,
    ...(ext.ifaceV6Addr ? { publicIPv6: ext.ifaceV6Addr.ip } : {}),
    ...(preStartupOutput !== undefined ? { backendData: preStartupOutput } : {}),
  };
}

/** upstream's fatal-hook error text: `failed to run command: <command> Err: <error> Output: <output>`. */
export function hookFailureMessage(run: HookInvocation, error: string, output: string): string {
  return `failed to run command: ${run.command} Err: ${error} Output: ${output}`;
}

/**
 * Which SubnetAdd/SubnetRemove hooks a new peer set asks for: a lease that is new or whose attributes changed
 * is added (upstream re-runs SubnetAdd for an updated lease), a lease that is gone is removed with its last
 * known attributes. `previous` maps lease keys to leases; the returned `current` is the next `previous`.
 */
export function peerChanges(previous: ReadonlyMap<string, Lease>, peers: readonly Lease[]): { added: Lease[]; removed: Lease[]; current: Map<string, Lease> } {
  const current = new Map(peers.map((peer) => [leaseKey(peer), peer]));
  const added = peers.filter((peer) => {
    const before = previous.get(leaseKey(peer));
    return before === undefined || (before !== peer && !sameLease(before, peer));
  });
  const removed = [...previous].filter(([key]) => !current.has(key)).map(([, lease]) => lease);
  return { added, removed, current };
}
