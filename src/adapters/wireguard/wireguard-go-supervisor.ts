/**
 * Runs wireguard-go for one device for as long as flanneld runs: starts `wireguard-go -f <device>` (foreground,
 * so it stays our child), waits until its UAPI socket answers, tells the caller (`onReady`: the device exists
 * and is empty — the reconciler configures it), and starts it again after a backoff (1 s doubling to 30 s,
 * reset once it answered) whenever it exits: killed, its TUN deleted, its socket removed.
 *
 * A wireguard-go that already answers on the device's socket when we start (left running by a flanneld that was
 * SIGKILLed) is adopted instead of replaced, so traffic keeps flowing across a flanneld restart; it is probed
 * every second and replaced by our own child once it stops answering. A socket file nobody answers on is stale
 * and removed (wireguard-go would otherwise watch a dead path). On abort our child gets SIGTERM (SIGKILL after
 * 3 s) and `run` returns once it has exited; an adopted process is left alone.
 *
 * wireguard-go's socket path is fixed (/var/run/wireguard/<device>.sock): hosts that share a filesystem (the
 * lab's namespaces) each need their own mount namespace with their own /run/wireguard.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { errorMessage } from '../../support/errors.js';
import type { Logger } from '../../support/logger.js';
import { Backoff, sleep, whenAborted } from '../../support/timing.js';
import { UapiWireguardControl } from './uapi-wireguard-control.js';

export interface WireguardGoSupervisorOptions {
  readonly device: string;
  readonly logger: Logger;
  /** Called each time a (new) wireguard-go answers for the device. */
  readonly onReady: () => void;
  /** Called when the wireguard-go that answered exits or stops answering (not on abort); it is restarted after a backoff. */
  readonly onExit?: () => void;
  /** The binary (default `wireguard-go` from PATH). */
  readonly command?: string;
  readonly runDirectory?: string;
  /** How long a fresh wireguard-go may take to answer (default 10 s). */
  readonly startTimeoutMs?: number;
  readonly restartBackoff?: Backoff;
  /** wireguard-go's LOG_LEVEL (default `error`). */
  readonly logLevel?: 'verbose' | 'error' | 'silent';
}

const PROBE_INTERVAL_MS = 1000;
const POLL_MS = 25;
const STOP_GRACE_MS = 3000;

export class WireguardGoSupervisor {
  private readonly control: UapiWireguardControl;
  private readonly backoff: Backoff;
  /** Starts of our own child so far (tests and status). */
  starts = 0;
  /** The pid of our running child, if any. */
  pid: number | undefined;

  constructor(private readonly options: WireguardGoSupervisorOptions) {
    this.control = new UapiWireguardControl(options.runDirectory ? { runDirectory: options.runDirectory, timeoutMs: 2000 } : { timeoutMs: 2000 });
    this.backoff = options.restartBackoff ?? new Backoff(1000, 30_000);
  }

  async run(signal: AbortSignal): Promise<void> {
    const { logger, device } = this.options;
    if (await this.answers()) {
      logger.info({ device }, 'adopted a running wireguard-go');
      this.options.onReady();
      while (!signal.aborted && (await this.answers())) await sleep(PROBE_INTERVAL_MS, signal);
      if (signal.aborted) return;
      logger.warn({ device }, 'adopted wireguard-go stopped answering; starting our own');
      this.options.onExit?.();
    }
    while (!signal.aborted) {
      const exitCode = await this.runOnce(signal);
      if (signal.aborted) return;
      this.options.onExit?.();
      const delayMs = this.backoff.next();
      logger.warn({ device, exitCode, restartInMs: delayMs }, 'wireguard-go exited');
      await sleep(delayMs, signal);
    }
  }

  /** One child's life: start, wait until it answers (then onReady), wait for its exit. Returns its exit status. */
  private async runOnce(signal: AbortSignal): Promise<number | string> {
    const { logger, device } = this.options;
    const socket = this.control.socketPath(device);
    // A socket file nobody answers on belongs to a dead wireguard-go.
    if (existsSync(socket)) rmSync(socket, { force: true });
    let child: ChildProcess;
    try {
      child = spawn(this.options.command ?? 'wireguard-go', ['-f', device], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, LOG_LEVEL: this.options.logLevel ?? 'error', WG_PROCESS_FOREGROUND: '1' },
      });
    } catch (error) {
      return `spawn failed: ${errorMessage(error)}`;
    }
    this.starts++;
    this.pid = child.pid;
    forwardOutput(child, logger.child({ device, wireguardGoPid: child.pid }));
    const exited = new Promise<number | string>((resolve) => {
      child.on('error', (error) => resolve(`spawn failed: ${error.message}`));
      child.on('exit', (code, exitSignal) => resolve(code ?? exitSignal ?? 'unknown'));
    });
    let status: number | string | undefined;
    void exited.then((value) => (status = value));
    const deadline = Date.now() + (this.options.startTimeoutMs ?? 10_000);
    while (status === undefined && !signal.aborted && Date.now() < deadline && !(existsSync(socket) && (await this.answers()))) await sleep(POLL_MS, signal);
    if (status === undefined && !signal.aborted) {
      if (Date.now() >= deadline) {
        logger.warn({ device, wireguardGoPid: child.pid }, 'wireguard-go did not open its UAPI socket in time; stopping it');
        await stop(child, exited);
      } else {
        logger.info({ device, wireguardGoPid: child.pid }, 'wireguard-go started');
        this.backoff.reset();
        this.options.onReady();
      }
    }
    const detach = whenAborted(signal, () => void stop(child, exited));
    const result = await exited;
    detach();
    this.pid = undefined;
    return result;
  }

  private async answers(): Promise<boolean> {
    try {
      return (await this.control.getDevice(this.options.device)) !== undefined;
    } catch {
      return false;
    }
  }
}

async function stop(child: ChildProcess, exited: Promise<unknown>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
  await exited;
  clearTimeout(timer);
}

/** wireguard-go's lines into our log: its ERROR lines as warnings, the rest (banner, debug) at debug. */
function forwardOutput(child: ChildProcess, logger: Logger): void {
  for (const stream of [child.stdout, child.stderr]) {
    let pending = '';
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      pending = (pending + chunk).slice(-16_384);
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        const text = line.trim().slice(0, 1000);
        if (text === '') continue;
        if (text.startsWith('ERROR')) logger.warn({ output: text }, 'wireguard-go reported an error');
        else logger.debug({ output: text }, 'wireguard-go output');
      }
    });
  }
}
