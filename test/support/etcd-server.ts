/** A real etcd (Debian etcd-server) for contract tests, on this namespace's loopback; stopped by its pid. */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../src/lab/shell.js';
import { sleep } from '../../src/support/timing.js';

export interface EtcdServer {
  readonly url: string;
  readonly pid: number;
  etcdctl(args: readonly string[]): string;
  stop(): Promise<void>;
}

export async function startEtcd(clientPort = 23790): Promise<EtcdServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'flannel-ts-etcd-'));
  const url = `http://127.0.0.1:${clientPort}`;
  const child: ChildProcess = spawn('etcd', [
    '--name', 'contract', '--data-dir', dataDir, '--listen-client-urls', url, '--advertise-client-urls', url,
    '--listen-peer-urls', `http://127.0.0.1:${clientPort + 1}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${clientPort + 1}`,
    '--initial-cluster', `contract=http://127.0.0.1:${clientPort + 1}`, '--log-level', 'error',
  ], { stdio: 'ignore' });
  const etcdctl = (args: readonly string[]) => run('etcdctl', ['--endpoints', url, ...args], { env: { ...process.env, ETCDCTL_API: '3' } }).stdout;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  for (let attempt = 0; ; attempt++) {
    if (run('etcdctl', ['--endpoints', url, 'endpoint', 'health'], { env: { ...process.env, ETCDCTL_API: '3' }, allowFailure: true }).status === 0) break;
    if (attempt > 100 || child.exitCode !== null) throw new Error('etcd did not start');
    await sleep(100);
  }
  return {
    url,
    pid: child.pid as number,
    etcdctl,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
