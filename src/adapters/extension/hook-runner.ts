/**
 * Runs one extension hook as upstream's runCmd does: the program and arguments exactly as given (no shell),
 * environment = ours plus the hook's variables (the hook's win), stdin = the invocation's text, stdout and
 * stderr collected together (in arrival order; Go shares one pipe) and trimmed of white space. A failure
 * carries Go's wording (`exit status 3`, `signal: killed`, `exec: "x": executable file not found in $PATH`),
 * which ends up in upstream-format log and error lines.
 *
 * Bounded where upstream is not: output beyond `maxOutputBytes` is dropped (and said so), and an optional
 * `timeoutMs` kills a hook that hangs (SIGKILL, `signal: killed`). Abort kills it too.
 */
import { spawn } from 'node:child_process';
import type { HookInvocation } from '../../backend/extension/extension-hooks.js';

export interface HookResult {
  readonly ok: boolean;
  /** Combined stdout and stderr, trimmed. */
  readonly output: string;
  /** Go's error text when !ok. */
  readonly error?: string;
}

export interface HookRunOptions {
  /** The process environment to start from (default process.env). */
  readonly environment?: NodeJS.ProcessEnv;
  readonly timeoutMs?: number;
  readonly maxOutputBytes?: number;
  readonly signal?: AbortSignal;
}

const TRIM = /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+|[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/gu;

export function runHook(run: HookInvocation, options: HookRunOptions = {}): Promise<HookResult> {
  const [program, ...args] = run.argv;
  if (program === undefined || program === '') return Promise.resolve({ ok: false, output: '', error: 'exec: no command' });
  const maxOutputBytes = options.maxOutputBytes ?? 1 << 20;
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let truncated = false;
    let timedOut = false;
    let spawnError: NodeJS.ErrnoException | undefined;
    const child = spawn(program, args, {
      env: { ...(options.environment ?? process.env), ...run.env },
      stdio: ['pipe', 'pipe', 'pipe'],
      ...(options.signal ? { signal: options.signal, killSignal: 'SIGKILL' } : {}),
    });
    const collect = (chunk: Buffer) => {
      if (size + chunk.length > maxOutputBytes) {
        truncated = true;
        chunk = chunk.subarray(0, Math.max(0, maxOutputBytes - size));
      }
      size += chunk.length;
      if (chunk.length > 0) chunks.push(chunk);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    // A hook that never reads stdin closes the pipe: EPIPE is not the hook's failure.
    child.stdin?.on('error', () => {});
    child.stdin?.end(run.stdin);
    const timer = options.timeoutMs === undefined ? undefined : setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs);
    child.on('error', (error: NodeJS.ErrnoException) => {
      spawnError ??= error;
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      let output = Buffer.concat(chunks).toString('utf8').replace(TRIM, '');
      if (truncated) output += ` (output cut at ${maxOutputBytes} bytes)`;
      if (spawnError && spawnError.code !== 'ABORT_ERR') return resolve({ ok: false, output, error: goExecError(program, spawnError) });
      if (code === 0 && !timedOut) return resolve({ ok: true, output });
      const error = signal ? `signal: ${goSignalName(signal)}` : `exit status ${code}`;
      resolve({ ok: false, output, error: timedOut ? `${error} (no result within ${options.timeoutMs} ms)` : error });
    });
  });
}

/** Go's exec errors: lookup failures for bare names, fork/exec errors for paths. */
function goExecError(program: string, error: NodeJS.ErrnoException): string {
  if (error.code === 'ENOENT' && !program.includes('/')) return `exec: "${program}": executable file not found in $PATH`;
  const reason = error.code === 'ENOENT' ? 'no such file or directory' : error.code === 'EACCES' ? 'permission denied' : error.message;
  return `fork/exec ${program}: ${reason}`;
}

/** Go's syscall.Signal names for the signals a hook dies of. */
function goSignalName(signal: NodeJS.Signals): string {
  const names: Partial<Record<NodeJS.Signals, string>> = { SIGKILL: 'killed', SIGTERM: 'terminated', SIGINT: 'interrupt', SIGSEGV: 'segmentation fault', SIGABRT: 'aborted', SIGPIPE: 'broken pipe', SIGHUP: 'hangup' };
  return names[signal] ?? signal;
}
