/**
 * The lab's etcd: one member or a cluster, every member in the lab's etcd namespace with an address of its own
 * (member i at 198.18.0.(2+i)), optionally with TLS client certificates and a role-limited user, and the faults
 * the end-to-end tests inject: a member killed, hung (SIGSTOP) or restarted, and the whole store wiped.
 * Members are signalled by the pids recorded at start, never by name.
 */
import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { FlannelError } from '../support/errors.js';
import { sleep } from '../support/timing.js';
import type { LabLayout } from './lab-layout.js';
import { makeLabPki } from './lab-pki.js';
import { inNetns, processAlive, run } from './shell.js';

/** The key prefix flanneld uses by default (--etcd-prefix). */
export const ETCD_PREFIX = '/coreos.com/network';
const ROOT_CREDENTIALS = 'root:lab-root-pw';
export const FLANNEL_USER = 'flannel';
export const FLANNEL_PASSWORD = 'lab-flannel-pw';

export interface EtcdctlOptions {
  readonly input?: string;
  readonly allowFailure?: boolean;
  /** As the etcd root user when auth is on (default true). */
  readonly asRoot?: boolean;
  /** Only through this member (needed while another is hung); default: all of them. */
  readonly member?: number;
}

export interface LabEtcdOptions {
  readonly layout: LabLayout;
  readonly stateDir: string;
  readonly secure: boolean;
  readonly members: number;
  /** Starts etcd with these arguments in the etcd namespace, output to `logPath`. */
  readonly spawn: (args: readonly string[], logPath: string) => ChildProcess;
  /** The recorded pids by member index, and how to record them (the lab's state file). */
  readonly pids: () => Array<number | undefined>;
  readonly savePids: (pids: Array<number | undefined>) => void;
}

export class LabEtcd {
  /** Member i's address: 198.18.0.(2+i) (member 0 is the layout's etcd address). */
  readonly ips: string[];
  /** Every member's client URL, member 0 first. */
  readonly urls: string[];

  constructor(private readonly options: LabEtcdOptions) {
    const count = options.members;
    if (!Number.isInteger(count) || count < 1 || count > 7) throw new FlannelError('LAB_OPTIONS', `etcd members must be 1..7, got ${count}`);
    const base = options.layout.etcdIp.split('.');
    this.ips = Array.from({ length: count }, (_, index) => [...base.slice(0, 3), String(Number(base[3]) + index)].join('.'));
    this.urls = this.ips.map((ip) => `${options.secure ? 'https' : 'http'}://${ip}:2379`);
  }

  /** Starts every member of a new cluster and waits for it; with `secure`, makes the PKI first and the users after. */
  async start(): Promise<void> {
    if (this.options.secure) this.makeCertificates();
    for (let index = 0; index < this.ips.length; index++) this.startMember(index, 'new');
    await this.waitHealthy();
    if (this.options.secure) this.enableAuth();
  }

  /** Starts member `index`: `new` on an empty data dir as part of a new cluster, `existing` on its data (after a kill). */
  startMember(index: number, state: 'new' | 'existing' = 'existing'): void {
    const ip = this.ips[index];
    if (ip === undefined) throw new FlannelError('LAB_OPTIONS', `no etcd member ${index}`);
    const name = (member: number) => (this.ips.length === 1 ? 'lab' : `lab${member}`);
    const url = this.urls[index] as string;
    const args = [
      '--name', name(index), '--data-dir', this.dataDir(index),
      '--listen-client-urls', url, '--advertise-client-urls', url,
      '--listen-peer-urls', `http://${ip}:2380`, '--initial-advertise-peer-urls', `http://${ip}:2380`,
      '--initial-cluster', this.ips.map((memberIp, member) => `${name(member)}=http://${memberIp}:2380`).join(','),
      '--initial-cluster-state', state, '--log-level', 'warn',
    ];
    if (this.options.secure) {
      const pki = this.pkiDir;
      args.push('--client-cert-auth', '--trusted-ca-file', join(pki, 'ca.crt'), '--cert-file', join(pki, 'server.crt'), '--key-file', join(pki, 'server.key'));
    }
    const child = this.options.spawn(args, join(this.options.stateDir, index === 0 ? 'etcd.log' : `etcd${index}.log`));
    const pids = this.options.pids();
    pids[index] = child.pid;
    this.options.savePids(pids);
  }

  /** Member `index`'s pid while it runs. */
  memberPid(index: number): number | undefined {
    const pid = this.options.pids()[index];
    return pid !== undefined && processAlive(pid) ? pid : undefined;
  }

  /** Sends `signal` to member `index`; after SIGKILL or SIGTERM, waits for it to exit. */
  async signalMember(index: number, signal: NodeJS.Signals): Promise<void> {
    const pid = this.memberPid(index);
    if (pid === undefined) return;
    process.kill(pid, signal);
    if (signal !== 'SIGKILL' && signal !== 'SIGTERM') return;
    for (let attempt = 0; attempt < 200 && processAlive(pid); attempt++) await sleep(25);
  }

  /** The index of the raft leader now (as the members that answer say). */
  leader(): number {
    const statuses = this.ips.map((_, index) => {
      if (this.memberPid(index) === undefined) return undefined;
      const result = this.etcdctl(['endpoint', 'status', '-w', 'json'], { member: index, allowFailure: true });
      if (result.status !== 0) return undefined;
      return (JSON.parse(result.stdout) as Array<{ Status: { header: { member_id: number }; leader: number } }>)[0]?.Status;
    });
    const leaderId = statuses.find((status) => status !== undefined)?.leader;
    const index = statuses.findIndex((status) => status !== undefined && status.header.member_id === leaderId);
    if (index < 0) throw new FlannelError('LAB_ETCD', 'no etcd member knows a leader');
    return index;
  }

  /** Disaster: every member killed and its data deleted, the cluster started anew and empty (no network config). */
  async wipe(): Promise<void> {
    for (let index = 0; index < this.ips.length; index++) await this.signalMember(index, 'SIGKILL');
    for (let index = 0; index < this.ips.length; index++) rmSync(this.dataDir(index), { recursive: true, force: true });
    for (let index = 0; index < this.ips.length; index++) this.startMember(index, 'new');
    await this.waitHealthy();
    if (this.options.secure) this.enableAuth();
  }

  /** Waits until every running member is healthy (answers, with a leader); throws after 20 s. */
  async waitHealthy(): Promise<void> {
    for (let attempt = 0; attempt < 200; attempt++) {
      const running = this.ips.map((_, index) => index).filter((index) => this.memberPid(index) !== undefined);
      if (running.length === 0) break;
      if (running.every((index) => this.etcdctl(['endpoint', 'health'], { member: index, allowFailure: true, asRoot: false }).status === 0)) return;
      await sleep(100);
    }
    throw new FlannelError('LAB_ETCD', `etcd is not healthy; see ${join(this.options.stateDir, 'etcd.log')}`);
  }

  /** Stops every member (a hung one is resumed first: a stopped process does not act on SIGTERM). */
  async stopAll(): Promise<void> {
    for (const pid of this.options.pids()) {
      if (pid === undefined || !processAlive(pid)) continue;
      process.kill(pid, 'SIGCONT');
      process.kill(pid, 'SIGTERM');
      for (let attempt = 0; attempt < 100 && processAlive(pid); attempt++) await sleep(50);
      if (processAlive(pid)) process.kill(pid, 'SIGKILL');
    }
  }

  /** Certificate paths a flanneld uses for the secure etcd. */
  get clientTls(): { ca: string; cert: string; key: string } {
    return { ca: join(this.pkiDir, 'ca.crt'), cert: join(this.pkiDir, 'client.crt'), key: join(this.pkiDir, 'client.key') };
  }

  /** etcdctl (v3 API) run inside the etcd namespace, as root when auth is on. */
  etcdctl(args: readonly string[], options: EtcdctlOptions = {}) {
    const endpoints = options.member === undefined ? this.urls.join(',') : this.urls[options.member];
    if (endpoints === undefined) throw new FlannelError('LAB_OPTIONS', `no etcd member ${options.member}`);
    const base = ['--endpoints', endpoints, '--dial-timeout', '2s'];
    if (this.options.secure) {
      const tls = this.clientTls;
      base.push('--cacert', tls.ca, '--cert', tls.cert, '--key', tls.key);
      if (options.asRoot !== false) base.push('--user', ROOT_CREDENTIALS);
    }
    return inNetns(this.options.layout.etcdNetns, 'etcdctl', [...base, ...args], {
      env: { ...process.env, ETCDCTL_API: '3' },
      ...(options.input === undefined ? {} : { input: options.input }),
      ...(options.allowFailure === undefined ? {} : { allowFailure: options.allowFailure }),
    });
  }

  private dataDir(index: number): string {
    return join(this.options.stateDir, index === 0 ? 'etcd-data' : `etcd-data-${index}`);
  }

  private get pkiDir(): string {
    return join(this.options.stateDir, 'pki');
  }

  private makeCertificates(): void {
    makeLabPki(this.pkiDir, 'flannel-ts-lab-ca', [
      { name: 'server', commonName: 'etcd', usage: 'serverAuth', altNames: this.ips.map((ip) => `IP:${ip}`) },
      { name: 'client', commonName: FLANNEL_USER, usage: 'clientAuth', altNames: ['DNS:flannel'] },
    ]);
  }

  /** The usual recipe: root user, a role limited to the prefix, a flannel user with that role, auth on. */
  private enableAuth(): void {
    const plain = { asRoot: false };
    this.etcdctl(['user', 'add', ROOT_CREDENTIALS], plain);
    this.etcdctl(['role', 'add', 'flannel'], plain);
    this.etcdctl(['role', 'grant-permission', 'flannel', '--prefix=true', 'readwrite', `${ETCD_PREFIX}/`], plain);
    this.etcdctl(['user', 'add', `${FLANNEL_USER}:${FLANNEL_PASSWORD}`], plain);
    this.etcdctl(['user', 'grant-role', FLANNEL_USER, 'flannel'], plain);
    this.etcdctl(['auth', 'enable'], plain);
  }
}
