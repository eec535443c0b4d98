/**
 * Starts a unit's ExecStart= in a lab namespace the way systemd would: argv expanded from the unit and its
 * environment files (systemd-unit.ts), and an environment that holds only what systemd gives a service — its
 * default PATH, the unit's variables and NOTIFY_SOCKET — not the test's own.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { processAlive } from '../../src/lab/shell.js';
import { sleep } from '../../src/support/timing.js';
import { execStartArgv, serviceEnvironment } from './systemd-unit.js';

/** systemd's PATH for services (merged /usr), plus the directory of the node running the tests. */
const SERVICE_PATH = `/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:${dirname(process.execPath)}`;

export interface UnitProcess {
  readonly child: ChildProcess;
  readonly argv: readonly string[];
  readonly environment: ReadonlyMap<string, string>;
}

export function startUnit(options: {
  netns: string;
  unitText: string;
  /** Contents of the files the unit reads (EnvironmentFile=), by the path the unit names. */
  files: Readonly<Record<string, string>>;
  /** Where the unit's executables are in this checkout, by the path the unit names. */
  executables: Readonly<Record<string, string>>;
  notifySocket?: string;
  logPath: string;
  /** Where the pid is recorded, so that a later run can stop what a crashed run left (stopLeftover). */
  pidFile: string;
}): UnitProcess {
  const environment = serviceEnvironment(options.unitText, (path) => options.files[path]);
  const argv = execStartArgv(options.unitText, environment);
  const executable = options.executables[argv[0] ?? ''];
  if (!executable) throw new Error(`no executable given for ${argv[0]}`);
  const env: NodeJS.ProcessEnv = { PATH: SERVICE_PATH, ...Object.fromEntries(environment), ...(options.notifySocket ? { NOTIFY_SOCKET: options.notifySocket } : {}) };
  mkdirSync(dirname(options.logPath), { recursive: true });
  const out = openSync(options.logPath, 'a');
  const child = spawn('ip', ['netns', 'exec', options.netns, executable, ...argv.slice(1)], { env, detached: true, stdio: ['ignore', out, out] });
  child.unref();
  writeFileSync(options.pidFile, String(child.pid));
  return { child, argv, environment };
}

/** Stops the process recorded in `pidFile` by an earlier run if it still runs `executable`. */
export async function stopLeftover(pidFile: string, executable: string): Promise<void> {
  const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8')) : NaN;
  if (!Number.isInteger(pid) || !processAlive(pid)) return;
  if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(executable)) return;
  await stopProcess(pid);
}

/** Stops a process by pid (SIGTERM, then SIGKILL after 5 s) and waits for it to go. */
export async function stopProcess(pid: number | undefined): Promise<void> {
  if (pid === undefined || !processAlive(pid)) return;
  process.kill(pid, 'SIGTERM');
  for (let attempt = 0; attempt < 100 && processAlive(pid); attempt++) await sleep(50);
  if (processAlive(pid)) process.kill(pid, 'SIGKILL');
}
