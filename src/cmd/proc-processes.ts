/**
 * The process table from /proc, for finding a running flanneld (ops/running-flanneld.ts): each process's
 * command line, executable, network namespace and state. Processes that exit while being read, or whose
 * links are closed to us, are listed with what could be read; nothing here throws.
 */
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import type { ProcessFacts } from '../ops/running-flanneld.js';

function attempt<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch {
    return undefined;
  }
}

/** Every process /proc shows (`proc` is the mount point, for tests). */
export function readProcesses(proc = '/proc'): ProcessFacts[] {
  const pids = (attempt(() => readdirSync(proc)) ?? []).filter((name) => /^\d+$/.test(name));
  const processes: ProcessFacts[] = [];
  for (const pid of pids) {
    const cmdline = attempt(() => readFileSync(`${proc}/${pid}/cmdline`));
    if (cmdline === undefined) continue;
    const argv = cmdline.toString('utf8').split('\0');
    if (argv.at(-1) === '') argv.pop();
    const exe = attempt(() => readlinkSync(`${proc}/${pid}/exe`));
    const netns = attempt(() => readlinkSync(`${proc}/${pid}/ns/net`));
    // The state follows the command name, which is in parentheses and may itself contain ") ".
    const stat = attempt(() => readFileSync(`${proc}/${pid}/stat`, 'utf8'));
    const state = stat === undefined ? undefined : /\) (\S)/.exec(stat.slice(stat.lastIndexOf(')') - 1))?.[1];
    processes.push({ pid: Number(pid), argv, ...(exe ? { exe } : {}), ...(netns ? { netns } : {}), ...(state ? { state } : {}) });
  }
  return processes;
}

/** This process's network namespace (`net:[…]`). */
export function ownNetworkNamespace(proc = '/proc'): string | undefined {
  return attempt(() => readlinkSync(`${proc}/self/ns/net`));
}
