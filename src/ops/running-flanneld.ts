/**
 * Is a flanneld running on this host — in this network namespace, which is what "this host" means to the
 * kernel state uninstall removes (a flanneld in a container with host networking counts; one in a lab
 * namespace or a pod network does not)? Decided from facts gathered elsewhere (the process table and the status
 * socket's answer), pure.
 *
 * A process is a flanneld when its executable or its command is one: upstream's Go binary (`flanneld`,
 * `flanneld-v0.20.2`, `/opt/bin/flanneld`), or Node running our `flanneld`/`flanneld.js` (the first argument after
 * Node's own options). A status socket that answers settles it when its pid is a flanneld in another namespace
 * (not ours); an answer whose pid is no flanneld we can see (another pid namespace) is taken as a flanneld here,
 * since the socket's directory is this host's /run/flannel.
 */

/** One process, as /proc shows it. */
export interface ProcessFacts {
  readonly pid: number;
  /** /proc/PID/cmdline, split at NULs. */
  readonly argv: readonly string[];
  /** /proc/PID/exe's target, when readable. */
  readonly exe?: string;
  /** /proc/PID/ns/net's target (`net:[4026531840]`), when readable. */
  readonly netns?: string;
  /** The state letter of /proc/PID/stat (Z: a zombie, gone but not reaped). */
  readonly state?: string;
}

/** What the status socket said: a pid, nothing there, or something else (a timeout, a refusal). */
export type SocketAnswer = { readonly pid: number } | { readonly absent: true } | { readonly error: string };

export interface RunningFlanneld {
  /** Why we think so, for the refusal message; undefined when no flanneld runs here. */
  readonly reason?: string;
}

/** Upstream's binary under any of the names it ships or is saved as: flanneld, flanneld-v0.20.2, flanneld_amd64. */
const FLANNELD_BINARY = /^flanneld([-_][\w.-]*)?$/;
const NODE_NAME = /^(node|nodejs|node\d+)$/;

const baseName = (path: string) => path.slice(path.lastIndexOf('/') + 1);

/** Whether a command line (and executable) is a flanneld: upstream's binary or Node running ours. */
export function isFlanneldCommand(argv: readonly string[], exe?: string): boolean {
  const [first, ...rest] = argv;
  if (first === undefined) return false;
  if (FLANNELD_BINARY.test(baseName(first))) return true;
  if (exe !== undefined && FLANNELD_BINARY.test(baseName(exe))) return true;
  if (!NODE_NAME.test(baseName(first)) && !(exe !== undefined && NODE_NAME.test(baseName(exe)))) return false;
  const script = rest.find((argument) => !argument.startsWith('-'));
  return script !== undefined && /^flanneld(\.js)?$/.test(baseName(script));
}

/** Live flanneld processes in `netns`, other than `selfPid`. */
export function flanneldProcesses(processes: readonly ProcessFacts[], netns: string, selfPid: number): ProcessFacts[] {
  return processes.filter((process) => process.pid !== selfPid && process.state !== 'Z' && process.netns === netns && isFlanneldCommand(process.argv, process.exe));
}

/** Whether a flanneld runs in `netns`, and why we think so. */
export function runningFlanneld(processes: readonly ProcessFacts[], netns: string, selfPid: number, socket: SocketAnswer, socketPath: string): RunningFlanneld {
  const here = flanneldProcesses(processes, netns, selfPid);
  if (here.length > 0) {
    const names = here.map((process) => `pid ${process.pid}: ${process.argv.join(' ').slice(0, 120)}`);
    return { reason: `flanneld is running in this network namespace (${names.join('; ')})` };
  }
  if ('absent' in socket) return {};
  if ('error' in socket) return { reason: `something holds flanneld's status socket ${socketPath} but does not answer (${socket.error})` };
  const owner = processes.find((process) => process.pid === socket.pid);
  if (owner && owner.state !== 'Z' && isFlanneldCommand(owner.argv, owner.exe) && owner.netns !== undefined && owner.netns !== netns) return {};
  return { reason: `a flanneld answers on ${socketPath} (its pid ${socket.pid}, in a pid namespace of its own)` };
}
