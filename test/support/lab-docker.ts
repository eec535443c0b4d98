/**
 * A real dockerd (Debian's docker.io) on a lab host: its own data root, exec root, pid file and API socket
 * under the host's lab directory, running in the host's network namespace, so docker0 and Docker's iptables
 * rules live there and nowhere else. Stopped by its recorded pid.
 *
 * `ip netns exec` gives the daemon a fresh /sys (the namespace's own network devices), which hides the cgroup
 * hierarchies mounted under /sys/fs/cgroup; the start script mounts the same hierarchies again inside that
 * private mount namespace (nothing outside sees them) before it execs dockerd.
 *
 * No registry is reachable: `importBusybox` makes a one-binary image from Debian's busybox-static.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { Lab } from '../../src/lab/lab.js';
import type { LabHost } from '../../src/lab/lab-layout.js';
import { type RunResult, processAlive, run } from '../../src/lab/shell.js';
import { sleep } from '../../src/support/timing.js';

export const BUSYBOX_IMAGE = 'flannel-ts-lab/busybox:1';
const DOCKER_CLI = existsSync('/usr/bin/docker') ? '/usr/bin/docker' : 'docker';

export class LabDocker {
  private pid: number | undefined;
  private readonly dir: string;

  constructor(lab: Lab, readonly host: LabHost) {
    this.dir = join(lab.hostDir(host), 'docker');
  }

  get socket(): string {
    return join(this.dir, 'docker.sock');
  }

  get log(): string {
    return existsSync(join(this.dir, 'dockerd.log')) ? readFileSync(join(this.dir, 'dockerd.log'), 'utf8') : '';
  }

  /** Starts dockerd with `networkArgs` (--bip, --mtu, --ip-masq…) and waits until its API answers. */
  async start(networkArgs: readonly string[], timeoutMs = 20_000): Promise<void> {
    mkdirSync(this.dir, { recursive: true });
    const daemonArgs = [
      '--data-root', join(this.dir, 'data'), '--exec-root', join(this.dir, 'x'), '--pidfile', join(this.dir, 'dockerd.pid'),
      '-H', `unix://${this.socket}`, '--shutdown-timeout', '1', '--log-level', 'warn', ...networkArgs,
    ];
    const script = `set -e\n${cgroupMountCommands().join('\n')}\nexec dockerd "$@"`;
    const out = openSync(join(this.dir, 'dockerd.log'), 'a');
    const child: ChildProcess = spawn('ip', ['netns', 'exec', this.host.netns, 'sh', '-c', script, 'sh', ...daemonArgs], { detached: true, stdio: ['ignore', out, out] });
    child.unref();
    this.pid = child.pid;
    const deadline = Date.now() + timeoutMs;
    while (this.docker(['version', '--format', '{{.Server.Version}}'], { allowFailure: true }).status !== 0) {
      if (Date.now() > deadline || !processAlive(this.pid ?? -1)) throw new Error(`dockerd on ${this.host.name} did not come up; log:\n${this.log.slice(-3000)}`);
      await sleep(50);
    }
  }

  docker(args: readonly string[], options: { allowFailure?: boolean; input?: string } = {}): RunResult {
    return run(DOCKER_CLI, ['-H', `unix://${this.socket}`, ...args], { ...options, timeoutMs: 30_000 });
  }

  /** Imports the busybox image from a root file system tarball (see busyboxRootfs). */
  importBusybox(rootfsTar: string): void {
    this.docker(['import', '--change', 'CMD ["/bin/sh"]', rootfsTar, BUSYBOX_IMAGE]);
  }

  /** Stops a dockerd a crashed earlier run left on this host (found by its pid file), before the lab is rebuilt. */
  async stopLeftover(): Promise<void> {
    const pidFile = join(this.dir, 'dockerd.pid');
    const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : NaN;
    if (!Number.isInteger(pid) || !processAlive(pid)) return;
    if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== 'dockerd') return;
    this.pid = pid;
    await this.stop();
  }

  /** Removes every container (SIGKILL, no grace period), then stops dockerd by pid. */
  async stop(): Promise<void> {
    const pid = this.pid;
    if (pid === undefined || !processAlive(pid)) return;
    const containers = this.docker(['ps', '-aq'], { allowFailure: true }).stdout.split('\n').filter((id) => id !== '');
    if (containers.length > 0) this.docker(['rm', '-f', ...containers], { allowFailure: true });
    process.kill(pid, 'SIGTERM');
    for (let attempt = 0; attempt < 200 && processAlive(pid); attempt++) await sleep(50);
    if (processAlive(pid)) process.kill(pid, 'SIGKILL');
    this.pid = undefined;
  }
}

/**
 * The mount commands that recreate this machine's cgroup hierarchies (v1, hybrid or v2) under /sys/fs/cgroup,
 * read from our own mountinfo.
 */
export function cgroupMountCommands(): string[] {
  const commands: string[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [before, after] = line.split(' - ');
    const mountPoint = before?.split(' ')[4];
    const [type, , superOptions = ''] = after?.split(' ') ?? [];
    if (!mountPoint?.startsWith('/sys/fs/cgroup') || !type || !['tmpfs', 'cgroup', 'cgroup2'].includes(type)) continue;
    const options = superOptions.split(',').filter((option) => option !== 'rw' && option !== 'ro').join(',');
    commands.push(`mkdir -p ${mountPoint} && mount -t ${type} ${options ? `-o ${options} ` : ''}${type} ${mountPoint}`);
  }
  return commands;
}

/** A root file system with Debian's static busybox as /bin/busybox and the applets the tests use. */
export function busyboxRootfs(dir: string): string {
  const busybox = ['/bin/busybox', '/usr/bin/busybox'].find((path) => existsSync(path));
  if (!busybox) throw new Error('busybox not found: scripts/setup.sh installs busybox-static');
  const rootfs = join(dir, 'rootfs');
  mkdirSync(join(rootfs, 'bin'), { recursive: true });
  run('cp', [busybox, join(rootfs, 'bin', 'busybox')]);
  for (const applet of ['sh', 'ping', 'ip', 'sleep', 'cat']) symlinkSync('busybox', join(rootfs, 'bin', applet));
  const tar = join(dir, 'busybox-rootfs.tar');
  run('tar', ['-C', rootfs, '-cf', tar, '.']);
  return tar;
}
