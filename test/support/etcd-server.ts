/**
 * Real etcd (Debian etcd-server) for contract tests, on this namespace's loopback; stopped by its pid. One
 * member or a cluster of several; a member can be stopped and started again on its data, started on a new
 * empty data dir (a wipe) or on one restored from a snapshot.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../src/lab/shell.js';
import { sleep } from '../../src/support/timing.js';

export interface EtcdServer {
  readonly url: string;
  /** The running process's pid (changes with every start). */
  readonly pid: number;
  etcdctl(args: readonly string[]): string;
  stop(): Promise<void>;
  /** Stops (SIGTERM) and starts again on the same data. */
  restart(): Promise<void>;
  /** Stops, loses every key (a new empty data dir) and starts again: a new store from revision 1. */
  wipe(): Promise<void>;
  /** Stops and starts again on the data of `snapshot` (made with `etcdctl snapshot save`). */
  restore(snapshot: string, clusterToken?: string): Promise<void>;
}

export interface EtcdServerOptions {
  readonly clientPort?: number;
  /** Extra etcd flags (e.g. --auth-token-ttl). */
  readonly args?: readonly string[];
  /** Serve clients over TLS with this certificate (url becomes https://). */
  readonly tls?: { readonly cert: string; readonly key: string; readonly clientCa?: string };
  /** Flags etcdctl needs to talk to it (e.g. --cacert, --cert, --key). */
  readonly etcdctlFlags?: readonly string[];
}

const ETCDCTL_ENV = { ...process.env, ETCDCTL_API: '3' };

export async function startEtcd(options: EtcdServerOptions | number = {}): Promise<EtcdServer> {
  const { clientPort = 23790, args = [], tls, etcdctlFlags = [] } = typeof options === 'number' ? { clientPort: options } : options;
  const tlsArgs = tls ? ['--cert-file', tls.cert, '--key-file', tls.key, ...(tls.clientCa ? ['--client-cert-auth', '--trusted-ca-file', tls.clientCa] : [])] : [];
  const [member] = await startEtcdCluster(1, clientPort, [...args, ...tlsArgs], tls ? 'https' : 'http', etcdctlFlags);
  return member as EtcdServer;
}

/**
 * `size` members on 127.0.0.1, member i with client port `basePort + 2i` (peer port + 1); returns when the
 * cluster is healthy. Each member's `etcdctl` talks to that member only.
 */
export async function startEtcdCluster(size: number, basePort: number, args: readonly string[] = [], scheme: 'http' | 'https' = 'http', etcdctlFlags: readonly string[] = []): Promise<EtcdServer[]> {
  const names = Array.from({ length: size }, (_, index) => `m${index}`);
  const peer = (index: number) => `http://127.0.0.1:${basePort + 2 * index + 1}`;
  const initialCluster = names.map((name, index) => `${name}=${peer(index)}`).join(',');
  const members = names.map((name, index) => new Member(name, `${scheme}://127.0.0.1:${basePort + 2 * index}`, peer(index), initialCluster, args, etcdctlFlags));
  members.forEach((member) => member.spawn('new'));
  await Promise.all(members.map((member) => member.waitHealthy()));
  return members;
}

class Member implements EtcdServer {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private dataDir: string;

  constructor(
    private readonly name: string,
    readonly url: string,
    private readonly peerUrl: string,
    private readonly initialCluster: string,
    private readonly extraArgs: readonly string[],
    private readonly ctlFlags: readonly string[],
  ) {
    this.dataDir = mkdtempSync(join(tmpdir(), 'flannel-ts-etcd-'));
  }

  get pid(): number {
    return this.child?.pid ?? -1;
  }

  etcdctl(args: readonly string[]): string {
    return run('etcdctl', ['--endpoints', this.url, ...this.ctlFlags, '--dial-timeout', '2s', '--command-timeout', '5s', ...args], { env: ETCDCTL_ENV }).stdout;
  }

  spawn(state: 'new' | 'existing', clusterToken = 'etcd-cluster'): void {
    this.child = spawn('etcd', [
      '--name', this.name, '--data-dir', this.dataDir, '--listen-client-urls', this.url, '--advertise-client-urls', this.url,
      '--listen-peer-urls', this.peerUrl, '--initial-advertise-peer-urls', this.peerUrl, '--initial-cluster', this.initialCluster,
      '--initial-cluster-state', state, '--initial-cluster-token', clusterToken, '--log-level', 'error', ...this.extraArgs,
    ], { stdio: 'ignore' });
    const child = this.child;
    this.exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  }

  /** Up and knows a leader (`endpoint status`, which works with auth on, unlike `endpoint health`). */
  async waitHealthy(): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const status = run('etcdctl', ['--endpoints', this.url, ...this.ctlFlags, '--dial-timeout', '1s', 'endpoint', 'status', '-w', 'json'], { env: ETCDCTL_ENV, allowFailure: true });
      if (status.status === 0 && /"leader":[1-9]/.test(status.stdout)) return;
      if (attempt > 150 || this.child?.exitCode !== null) throw new Error(`etcd ${this.name} did not start: ${status.stderr.trim()}`);
      await sleep(100);
    }
  }

  async halt(): Promise<void> {
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    await this.exited;
  }

  async stop(): Promise<void> {
    await this.halt();
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  async restart(): Promise<void> {
    await this.halt();
    this.spawn('existing');
    await this.waitHealthy();
  }

  async wipe(): Promise<void> {
    await this.stop();
    this.dataDir = mkdtempSync(join(tmpdir(), 'flannel-ts-etcd-'));
    this.spawn('new');
    await this.waitHealthy();
  }

  async restore(snapshot: string, clusterToken = 'etcd-cluster'): Promise<void> {
    await this.stop();
    // `snapshot restore` makes the data dir itself and refuses one that exists.
    this.dataDir = mkdtempSync(join(tmpdir(), 'flannel-ts-etcd-'));
    rmSync(this.dataDir, { recursive: true });
    run('etcdctl', ['snapshot', 'restore', snapshot, '--data-dir', this.dataDir, '--name', this.name, '--initial-cluster', this.initialCluster,
      '--initial-advertise-peer-urls', this.peerUrl, '--initial-cluster-token', clusterToken], { env: ETCDCTL_ENV });
    this.spawn('new', clusterToken);
    await this.waitHealthy();
  }
}
