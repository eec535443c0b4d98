/**
 * The lab: simulated hosts in network namespaces on one underlay bridge, a real etcd in its own namespace,
 * one real flanneld per host and one pod per host made through our CNI plugin with the reference bridge and
 * host-local plugins. Used by `flannelctl lab` and by the end-to-end tests.
 *
 * Safety: every namespace carries the lab prefix and lives on 198.18.0.0/24; the root namespace is never
 * touched; processes are stopped by the pids the lab recorded; `down()` deletes namespaces by name.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FlannelError } from '../support/errors.js';
import { sleep } from '../support/timing.js';
import { type LabHost, type LabLayout, labLayout, labNamespaces } from './lab-layout.js';
import { inNetns, listNetns, processAlive, run } from './shell.js';

const DIST_SRC = join(dirname(fileURLToPath(import.meta.url)), '..');
export const FLANNELD_JS = join(DIST_SRC, 'cmd', 'flanneld.js');
export const CNI_JS = join(DIST_SRC, 'cmd', 'flannel-cni.js');
export const CNI_PLUGIN_DIR = '/usr/lib/cni';
/** The Node flags of flanneld's shebang, for places that start it as `node <flags> flanneld.js`. */
export const FLANNELD_NODE_FLAGS = ['--max-semi-space-size=2'];

export interface LabOptions {
  readonly prefix: string;
  readonly hosts: number;
  readonly backend: string;
  readonly network?: string;
  readonly stateDir?: string;
  /** TLS with client certificates plus a user limited by a role to the prefix. */
  readonly secureEtcd?: boolean;
  readonly flanneldArgs?: readonly string[];
  /** Extra keys of the Backend object (e.g. DirectRouting). */
  readonly backendOptions?: Readonly<Record<string, unknown>>;
  /** IPv4 + IPv6: underlay addresses, IPv6Network, pods with both families. */
  readonly dualStack?: boolean;
  /** IPv6 only for the pod network (EnableIPv4: false); the underlay keeps IPv4 too, for etcd. */
  readonly ipv6Only?: boolean;
  /** Host numbers (1-based) placed on a second underlay subnet behind a router. */
  readonly routedHosts?: readonly number[];
  /** Extra keys of the CNI delegate config (e.g. `ipMasq: false`). */
  readonly cniDelegate?: Readonly<Record<string, unknown>>;
  /** Extra keys of the network config (e.g. `EnableNFTables: true`). */
  readonly configExtra?: Readonly<Record<string, unknown>>;
}

export const LAB_IPV6_NETWORK = 'fd00:10:244::/56';

interface LabState {
  options?: LabOptions;
  etcdPid?: number;
  flanneldPids: Record<string, number>;
  podIps: Record<string, string>;
  podIpv6s?: Record<string, string>;
}

export const ETCD_PREFIX = '/coreos.com/network';
const ROOT_CREDENTIALS = 'root:lab-root-pw';
export const FLANNEL_USER = 'flannel';
export const FLANNEL_PASSWORD = 'lab-flannel-pw';

/** The options a running lab was started with (for `lab down`/`status` from another process). */
export function savedLabOptions(prefix: string, stateDir = join('/run/flannel-ts-lab', prefix)): LabOptions | undefined {
  const path = join(stateDir, 'lab.json');
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as LabState).options : undefined;
}

export class Lab {
  readonly layout: LabLayout;
  readonly stateDir: string;
  private state: LabState;

  constructor(readonly options: LabOptions) {
    this.layout = labLayout(options.prefix, options.hosts, options.routedHosts);
    this.stateDir = options.stateDir ?? join('/run/flannel-ts-lab', options.prefix);
    this.state = existsSync(this.statePath) ? (JSON.parse(readFileSync(this.statePath, 'utf8')) as LabState) : { flanneldPids: {}, podIps: {} };
  }

  get etcdUrl(): string {
    return `${this.options.secureEtcd ? 'https' : 'http'}://${this.layout.etcdIp}:2379`;
  }

  /** Whether hosts and pods get IPv6 (dual stack or IPv6 only). */
  get ipv6(): boolean {
    return this.options.dualStack === true || this.options.ipv6Only === true;
  }

  get network(): string {
    return this.options.network ?? '10.244.0.0/16';
  }

  podIp(host: LabHost, family: 4 | 6 = 4): string | undefined {
    return family === 4 ? this.state.podIps[host.name] : this.state.podIpv6s?.[host.name];
  }

  /** The network config the lab puts into etcd. */
  networkConfig(): Record<string, unknown> {
    return {
      ...(this.options.ipv6Only ? { EnableIPv4: false } : { Network: this.network }),
      ...(this.ipv6 ? { EnableIPv6: true, IPv6Network: LAB_IPV6_NETWORK } : {}),
      Backend: { Type: this.options.backend, ...(this.options.backendOptions ?? {}) },
      ...(this.options.configExtra ?? {}),
    };
  }

  flanneldPid(host: LabHost): number | undefined {
    return this.state.flanneldPids[host.name];
  }

  hostDir(host: LabHost): string {
    return join(this.stateDir, host.name);
  }

  subnetFile(host: LabHost): string {
    return join(this.hostDir(host), 'subnet.env');
  }

  /** Everything: network, etcd, config, flanneld on every host, a pod per host. */
  async up(log: (line: string) => void = () => undefined): Promise<void> {
    this.createNetwork();
    log(`underlay ${this.layout.underlayNetns} (198.18.0.0/24), ${this.layout.hosts.length} hosts, etcd at ${this.layout.etcdIp}`);
    await this.startEtcd();
    log(`etcd running (pid ${this.state.etcdPid})${this.options.secureEtcd ? ' with TLS client certificates and a role-limited user' : ''}`);
    this.putConfig(this.networkConfig());
    for (const host of this.layout.hosts) this.startFlanneld(host);
    for (const host of this.layout.hosts) {
      await this.waitForSubnetEnv(host);
      log(`${host.name}: flanneld pid ${this.flanneldPid(host)}, ${readFileSync(this.subnetFile(host), 'utf8').split('\n').find((l) => l.startsWith('FLANNEL_SUBNET'))}`);
    }
    for (const host of this.layout.hosts) log(`${host.name}: pod ${host.podNetns} has ${this.addPod(host)}`);
  }

  createNetwork(): void {
    mkdirSync(this.stateDir, { recursive: true, mode: 0o700 });
    const { layout } = this;
    const existing = new Set(listNetns());
    for (const netns of labNamespaces(layout)) {
      if (existing.has(netns)) throw new FlannelError('LAB_EXISTS', `namespace ${netns} already exists: run \`flannelctl lab down --prefix ${layout.prefix}\` first`);
    }
    run('ip', ['netns', 'add', layout.underlayNetns]);
    inNetns(layout.underlayNetns, 'ip', ['link', 'add', 'br0', 'type', 'bridge']);
    inNetns(layout.underlayNetns, 'ip', ['link', 'set', 'br0', 'up']);
    this.attach(layout.etcdNetns, 'etcd', [`${layout.etcdIp}/24`]);
    const routed = layout.hosts.some((host) => host.routed);
    if (routed) {
      this.attach(layout.routerNetns, 'rt', ['198.18.0.1/24', '198.18.1.1/24', 'fd00:198:0::1/64', 'fd00:198:1::1/64']);
      inNetns(layout.routerNetns, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1']);
    }
    for (const host of layout.hosts) {
      if (this.ipv6) {
        run('ip', ['netns', 'add', host.netns]);
        inNetns(host.netns, 'sysctl', ['-qw', 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0', 'net.ipv6.conf.all.forwarding=1']);
      }
      const addresses = [`${host.underlayIp}/24`, ...(this.ipv6 ? [`${host.underlayIpv6}/64`] : [])];
      this.attach(host.netns, host.name, addresses, this.ipv6);
      inNetns(host.netns, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
      if (routed) {
        const other = host.routed ? '198.18.0.0/24' : '198.18.1.0/24';
        inNetns(host.netns, 'ip', ['route', 'add', other, 'via', host.routerIp]);
        if (this.ipv6) inNetns(host.netns, 'ip', ['-6', 'route', 'add', host.routed ? 'fd00:198:0::/64' : 'fd00:198:1::/64', 'via', host.routerIpv6]);
      }
      mkdirSync(this.hostDir(host), { recursive: true });
    }
    if (routed) inNetns(layout.etcdNetns, 'ip', ['route', 'add', '198.18.1.0/24', 'via', '198.18.0.1']);
    this.save();
  }

  /** A namespace on the underlay that is not part of the cluster, at 198.18.0.250 (masquerade tests). */
  createOutside(): void {
    this.attach(this.layout.outsideNetns, 'out', [`${this.layout.outsideIp}/24`]);
  }

  private attach(netns: string, label: string, addresses: readonly string[], netnsExists = false): void {
    const { layout } = this;
    if (!netnsExists) run('ip', ['netns', 'add', netns]);
    inNetns(layout.underlayNetns, 'ip', ['link', 'add', `ul-${label}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', netns]);
    inNetns(layout.underlayNetns, 'ip', ['link', 'set', `ul-${label}`, 'master', 'br0', 'up']);
    for (const address of addresses) inNetns(netns, 'ip', ['addr', 'add', address, 'dev', 'eth0']);
    inNetns(netns, 'ip', ['link', 'set', 'eth0', 'up']);
    inNetns(netns, 'ip', ['link', 'set', 'lo', 'up']);
  }

  async startEtcd(): Promise<void> {
    const { layout } = this;
    const dataDir = join(this.stateDir, 'etcd-data');
    const scheme = this.options.secureEtcd ? 'https' : 'http';
    const args = [
      '--name', 'lab', '--data-dir', dataDir,
      '--listen-client-urls', this.etcdUrl, '--advertise-client-urls', this.etcdUrl,
      '--listen-peer-urls', `http://${layout.etcdIp}:2380`, '--initial-advertise-peer-urls', `http://${layout.etcdIp}:2380`,
      '--initial-cluster', `lab=http://${layout.etcdIp}:2380`, '--log-level', 'warn',
    ];
    if (this.options.secureEtcd) {
      this.makeCertificates();
      const pki = this.pkiDir;
      args.push('--client-cert-auth', '--trusted-ca-file', join(pki, 'ca.crt'), '--cert-file', join(pki, 'server.crt'), '--key-file', join(pki, 'server.key'));
    }
    const child = this.spawnDetached(layout.etcdNetns, 'etcd', args, join(this.stateDir, 'etcd.log'));
    this.state.etcdPid = child.pid;
    this.save();
    for (let attempt = 0; attempt < 100; attempt++) {
      if (this.etcdctl(['endpoint', 'health'], { allowFailure: true, asRoot: false }).status === 0) break;
      if (!processAlive(child.pid ?? -1)) throw new FlannelError('LAB_ETCD', `etcd exited; see ${join(this.stateDir, 'etcd.log')}`);
      await sleep(100);
    }
    if (scheme === 'https') this.enableEtcdAuth();
  }

  private get pkiDir(): string {
    return join(this.stateDir, 'pki');
  }

  /** Certificate paths a flanneld uses for the secure etcd. */
  get clientTls(): { ca: string; cert: string; key: string } {
    return { ca: join(this.pkiDir, 'ca.crt'), cert: join(this.pkiDir, 'client.crt'), key: join(this.pkiDir, 'client.key') };
  }

  private makeCertificates(): void {
    const pki = this.pkiDir;
    mkdirSync(pki, { recursive: true, mode: 0o700 });
    const key = (name: string) => ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(pki, `${name}.key`)];
    run('openssl', ['req', '-x509', ...key('ca'), '-out', join(pki, 'ca.crt'), '-days', '2', '-subj', '/CN=flannel-ts-lab-ca']);
    for (const [name, usage, san] of [['server', 'serverAuth', `IP:${this.layout.etcdIp}`], ['client', 'clientAuth', 'DNS:flannel']] as const) {
      run('openssl', ['req', ...key(name), '-out', join(pki, `${name}.csr`), '-subj', `/CN=${name === 'client' ? FLANNEL_USER : 'etcd'}`]);
      writeFileSync(join(pki, `${name}.ext`), `subjectAltName=${san}\nextendedKeyUsage=${usage}\n`);
      run('openssl', ['x509', '-req', '-in', join(pki, `${name}.csr`), '-CA', join(pki, 'ca.crt'), '-CAkey', join(pki, 'ca.key'),
        '-CAcreateserial', '-out', join(pki, `${name}.crt`), '-days', '2', '-extfile', join(pki, `${name}.ext`)]);
    }
  }

  /** The usual recipe: root user, a role limited to the prefix, a flannel user with that role, auth on. */
  private enableEtcdAuth(): void {
    const plain = { asRoot: false };
    this.etcdctl(['user', 'add', ROOT_CREDENTIALS], plain);
    this.etcdctl(['role', 'add', 'flannel'], plain);
    this.etcdctl(['role', 'grant-permission', 'flannel', '--prefix=true', 'readwrite', `${ETCD_PREFIX}/`], plain);
    this.etcdctl(['user', 'add', `${FLANNEL_USER}:${FLANNEL_PASSWORD}`], plain);
    this.etcdctl(['user', 'grant-role', FLANNEL_USER, 'flannel'], plain);
    this.etcdctl(['auth', 'enable'], plain);
  }

  /** etcdctl (v3 API) run inside the etcd namespace, as root when auth is on. */
  etcdctl(args: readonly string[], options: { input?: string; allowFailure?: boolean; asRoot?: boolean } = {}) {
    const base = ['--endpoints', this.etcdUrl, '--dial-timeout', '2s'];
    if (this.options.secureEtcd) {
      const tls = this.clientTls;
      base.push('--cacert', tls.ca, '--cert', tls.cert, '--key', tls.key);
      if (options.asRoot !== false) base.push('--user', ROOT_CREDENTIALS);
    }
    return inNetns(this.layout.etcdNetns, 'etcdctl', [...base, ...args], {
      env: { ...process.env, ETCDCTL_API: '3' },
      ...(options.input === undefined ? {} : { input: options.input }),
      ...(options.allowFailure === undefined ? {} : { allowFailure: options.allowFailure }),
    });
  }

  putConfig(config: unknown): void {
    this.etcdctl(['put', `${ETCD_PREFIX}/config`, JSON.stringify(config)]);
  }

  /** Default flanneld arguments for a host (etcd endpoint, credentials, interface, subnet file, health port). */
  flanneldArgs(host: LabHost): string[] {
    const args = ['--etcd-endpoints', this.etcdUrl, '--iface', 'eth0', '--subnet-file', this.subnetFile(host),
      '--healthz-ip', host.underlayIp, '--healthz-port', String(host.healthzPort)];
    if (this.options.secureEtcd) {
      const tls = this.clientTls;
      args.push('--etcd-cafile', tls.ca, '--etcd-certfile', tls.cert, '--etcd-keyfile', tls.key,
        '--etcd-username', FLANNEL_USER, '--etcd-password', FLANNEL_PASSWORD);
    }
    return [...args, ...(this.options.flanneldArgs ?? [])];
  }

  startFlanneld(host: LabHost, args: readonly string[] = this.flanneldArgs(host)): ChildProcess {
    const child = this.spawnDetached(host.netns, process.execPath, [...FLANNELD_NODE_FLAGS, FLANNELD_JS, ...args], join(this.hostDir(host), 'flanneld.log'));
    this.state.flanneldPids[host.name] = child.pid ?? -1;
    this.save();
    return child;
  }

  /** Stops a host's flanneld by its recorded pid and waits for it to exit. */
  async stopFlanneld(host: LabHost, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const pid = this.state.flanneldPids[host.name];
    if (pid === undefined) return;
    if (processAlive(pid)) process.kill(pid, signal);
    for (let attempt = 0; attempt < 100 && processAlive(pid); attempt++) await sleep(50);
    delete this.state.flanneldPids[host.name];
    this.save();
  }

  async waitForSubnetEnv(host: LabHost, timeoutMs = 20_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (existsSync(this.subnetFile(host))) return readFileSync(this.subnetFile(host), 'utf8');
      const pid = this.state.flanneldPids[host.name];
      if (pid !== undefined && !processAlive(pid)) break;
      await sleep(100);
    }
    throw new FlannelError('LAB_FLANNELD', `${host.name}: no subnet file after ${timeoutMs} ms; log:\n${this.flanneldLog(host).slice(-3000)}`);
  }

  flanneldLog(host: LabHost): string {
    const path = join(this.hostDir(host), 'flanneld.log');
    return existsSync(path) ? readFileSync(path, 'utf8') : '';
  }

  /** The CNI network config the lab's runtime passes to our plugin. */
  cniConfig(host: LabHost): string {
    return JSON.stringify({
      cniVersion: '1.0.0', name: `${this.layout.prefix}-net`, type: 'flannel',
      subnetFile: this.subnetFile(host), dataDir: join(this.hostDir(host), 'cni'),
      delegate: { bridge: 'cni0', hairpinMode: true, isDefaultGateway: true, ...(this.options.cniDelegate ?? {}) },
      ipam: { dataDir: join(this.hostDir(host), 'ipam') },
    });
  }

  /** Runs our CNI plugin as a runtime would; returns its parsed stdout (throws on a CNI error). */
  cni(host: LabHost, command: 'ADD' | 'DEL' | 'CHECK', podNetns = host.podNetns): unknown {
    const result = inNetns(host.netns, process.execPath, [CNI_JS], {
      input: this.cniConfig(host),
      allowFailure: true,
      env: {
        ...process.env, CNI_COMMAND: command, CNI_CONTAINERID: podNetns, CNI_NETNS: `/var/run/netns/${podNetns}`,
        CNI_IFNAME: 'eth0', CNI_PATH: CNI_PLUGIN_DIR,
      },
    });
    const output = result.stdout.trim() === '' ? undefined : JSON.parse(result.stdout) as unknown;
    if (result.status !== 0) throw new FlannelError('LAB_CNI', `CNI ${command} on ${host.name} failed: ${result.stdout.trim()} ${result.stderr.trim().slice(-500)}`);
    return output;
  }

  /** Creates the host's pod namespace and wires it through CNI ADD; returns the pod's address(es). */
  addPod(host: LabHost): string {
    if (!listNetns().includes(host.podNetns)) run('ip', ['netns', 'add', host.podNetns]);
    if (this.ipv6) inNetns(host.podNetns, 'sysctl', ['-qw', 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0']);
    const result = this.cni(host, 'ADD') as { ips?: Array<{ address: string }> };
    const v4 = result.ips?.find((ip) => ip.address.includes('.'))?.address;
    const v6 = result.ips?.find((ip) => ip.address.includes(':'))?.address;
    if ((!this.options.ipv6Only && !v4) || (this.ipv6 && !v6)) throw new FlannelError('LAB_CNI', `CNI ADD on ${host.name} returned too few addresses: ${JSON.stringify(result)}`);
    if (v4) this.state.podIps[host.name] = v4.split('/')[0] as string;
    if (v6) this.state.podIpv6s = { ...(this.state.podIpv6s ?? {}), [host.name]: v6.split('/')[0] as string };
    this.save();
    return [v4, v6].filter(Boolean).join(' ');
  }

  ping(fromNetns: string, ip: string, count = 1, timeoutSeconds = 1): boolean {
    return inNetns(fromNetns, 'ping', ['-n', '-q', '-c', String(count), '-W', String(timeoutSeconds), ip], { allowFailure: true }).status === 0;
  }

  /** Every pod pings every other pod once; returns the failing pairs. */
  pingMatrix(family: 4 | 6 = 4): string[] {
    const failures: string[] = [];
    for (const from of this.layout.hosts) {
      for (const to of this.layout.hosts) {
        if (from === to) continue;
        const ip = this.podIp(to, family);
        if (!ip || !this.ping(from.podNetns, ip, 1, 2)) failures.push(`${from.name}→${to.name} (${ip})`);
      }
    }
    return failures;
  }

  /** Stops every recorded process and deletes every lab namespace and the state directory. */
  async down(): Promise<void> {
    for (const host of this.layout.hosts) await this.stopFlanneld(host).catch(() => undefined);
    const etcdPid = this.state.etcdPid;
    if (etcdPid !== undefined && processAlive(etcdPid)) {
      process.kill(etcdPid, 'SIGTERM');
      for (let attempt = 0; attempt < 100 && processAlive(etcdPid); attempt++) await sleep(50);
      if (processAlive(etcdPid)) process.kill(etcdPid, 'SIGKILL');
    }
    const existing = new Set(listNetns());
    for (const netns of labNamespaces(this.layout)) {
      if (existing.has(netns)) run('ip', ['netns', 'del', netns], { allowFailure: true });
    }
    rmSync(this.stateDir, { recursive: true, force: true });
    this.state = { flanneldPids: {}, podIps: {} };
  }

  private spawnDetached(netns: string, command: string, args: readonly string[], logPath: string): ChildProcess {
    mkdirSync(dirname(logPath), { recursive: true });
    const out = openSync(logPath, 'a');
    const child = spawn('ip', ['netns', 'exec', netns, command, ...args], { detached: true, stdio: ['ignore', out, out] });
    child.unref();
    return child;
  }

  private get statePath(): string {
    return join(this.stateDir, 'lab.json');
  }

  private save(): void {
    this.state.options = this.options;
    if (existsSync(this.stateDir)) writeFileSync(this.statePath, JSON.stringify(this.state, null, 2));
  }
}
