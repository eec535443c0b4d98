/**
 * Running the system tools the lab orchestrates (ip, etcd, etcdctl, openssl). Used by the lab and tests only;
 * the daemon never spawns a process per kernel operation.
 */
import { type SpawnSyncOptions, spawnSync } from 'node:child_process';
import { FlannelError } from '../support/errors.js';

export interface RunResult {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to completion; throws FlannelError('COMMAND_FAILED') with its stderr unless `allowFailure`. */
export function run(command: string, args: readonly string[], options: { input?: string; env?: NodeJS.ProcessEnv; allowFailure?: boolean; timeoutMs?: number } = {}): RunResult {
  const spawnOptions: SpawnSyncOptions = {
    encoding: 'utf8',
    timeout: options.timeoutMs ?? 60_000,
    ...(options.input === undefined ? { stdio: ['ignore', 'pipe', 'pipe'] } : { input: options.input }),
    ...(options.env ? { env: options.env } : {}),
  };
  const result = spawnSync(command, args, spawnOptions);
  const outcome = { status: result.status ?? -1, stdout: String(result.stdout ?? ''), stderr: String(result.stderr ?? '') };
  if (outcome.status !== 0 && !options.allowFailure) {
    const detail = result.error ? String(result.error) : outcome.stderr.trim() || outcome.stdout.trim();
    throw new FlannelError('COMMAND_FAILED', `${command} ${args.join(' ')} failed (${outcome.status}): ${detail}`);
  }
  return outcome;
}

export function inNetns(netns: string, command: string, args: readonly string[], options: Parameters<typeof run>[2] = {}): RunResult {
  return run('ip', ['netns', 'exec', netns, command, ...args], options);
}

export function listNetns(): string[] {
  return run('ip', ['netns', 'list'], { allowFailure: true }).stdout.split('\n').map((line) => line.split(' ')[0] ?? '').filter((name) => name !== '');
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
