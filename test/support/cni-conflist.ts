/**
 * Runs a CNI network configuration list as a container runtime (libcni) does: ADD calls every plugin in order,
 * each with the list's name and cniVersion injected and the previous plugin's result as prevResult; DEL calls
 * them in reverse order with the ADD result as prevResult. Plugins are found in `binDir`, which is also CNI_PATH.
 */
import { join } from 'node:path';
import { inNetns } from '../../src/lab/shell.js';

export interface Conflist {
  readonly name: string;
  readonly cniVersion: string;
  readonly plugins: ReadonlyArray<Record<string, unknown> & { type: string }>;
}

export interface ConflistRun {
  /** The namespace the runtime runs in (the host's). */
  readonly netns: string;
  readonly podNetns: string;
  readonly containerId: string;
  readonly binDir: string;
}

/** ADD: returns the final result; throws with the failing plugin's output. */
export function conflistAdd(conflist: Conflist, run: ConflistRun): Record<string, unknown> {
  let previous: Record<string, unknown> | undefined;
  for (const plugin of conflist.plugins) previous = invoke('ADD', plugin, conflist, run, previous);
  return previous ?? {};
}

export function conflistDel(conflist: Conflist, run: ConflistRun, addResult: Record<string, unknown>): void {
  for (const plugin of [...conflist.plugins].reverse()) invoke('DEL', plugin, conflist, run, addResult);
}

function invoke(command: 'ADD' | 'DEL', plugin: Conflist['plugins'][number], conflist: Conflist, run: ConflistRun, previous: Record<string, unknown> | undefined): Record<string, unknown> {
  const netconf = { ...plugin, name: conflist.name, cniVersion: conflist.cniVersion, ...(previous ? { prevResult: previous } : {}) };
  const result = inNetns(run.netns, join(run.binDir, plugin.type), [], {
    input: JSON.stringify(netconf),
    allowFailure: true,
    env: {
      PATH: process.env.PATH ?? '', CNI_COMMAND: command, CNI_CONTAINERID: run.containerId, CNI_NETNS: `/var/run/netns/${run.podNetns}`,
      CNI_IFNAME: 'eth0', CNI_PATH: run.binDir,
    },
  });
  if (result.status !== 0) throw new Error(`CNI ${command} ${plugin.type} failed (${result.status}): ${result.stdout.trim()} ${result.stderr.trim().slice(-500)}`);
  return result.stdout.trim() === '' ? {} : (JSON.parse(result.stdout) as Record<string, unknown>);
}
