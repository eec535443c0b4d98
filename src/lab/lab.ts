/**
 * The lab: simulated hosts in network namespaces on one underlay bridge, a real etcd in its own namespace (or,
 * with `kube`, the fake Kubernetes API server and flanneld in Kubernetes mode: lab-kube.ts), one real flanneld
 * per host and one pod per host made through our CNI plugin with the reference bridge and host-local plugins.
 * Used by `flannelctl lab` and by the end-to-end tests.
 *
 * Safety: every namespace carries the lab prefix and lives on 198.18.0.0/24; the root namespace is never
 * touched; processes are stopped by the pids the lab recorded; `down()` deletes namespaces by name.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FlannelError } from '../support/errors.js';
import { sleep } from '../support/timing.js';
import { ETCD_PREFIX, type EtcdctlOptions, FLANNEL_PASSWORD, FLANNEL_USER, LabEtcd } from './lab-etcd.js';
import { ensureLabImage } from './lab-image.js';
import { LabKube } from './lab-kube.js';
import { defaultLabBackendOptions, flanneldLaunch } from './lab-backends.js';
import { type LabHost, type LabLayout, labLayout, labNamespaces } from './lab-layout.js';
import { type RunResult, inNetns, listNetns, processAlive, run } from './shell.js';

const DIST_SRC = join(dirname(fileURLToPath(import.meta.url)), '..');
export const FLANNELD_JS = join(DIST_SRC, 'cmd', 'flanneld.js');
export const CNI_JS = join(DIST_SRC, 'cmd', 'flannel-cni.js');
export const FAKE_APISERVER_JS = join(DIST_SRC, 'cmd', 'fake-apiserver.js');
/** The checkout the lab runs from (package.json, scripts/, dist/). */
const REPO_ROOT = join(DIST_SRC, '..', '..');
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
  /** etcd cluster size (default 1); member i listens on 198.18.0.(2+i), all in the etcd namespace. */
  readonly etcdMembers?: number;
  /** Kubernetes mode: the fake API server instead of etcd, flanneld with --kube-subnet-mgr (lab-kube.ts). */
  readonly kube?: boolean;
  /** With `kube`: host 3 runs from the built image under podman (default true). */
  readonly kubeImage?: boolean;
}

export const LAB_IPV6_NETWORK = 'fd00:10:244::/56';

interface LabState {
  options?: LabOptions;
  /** Member 0's pid (all a single-member lab records). */
  etcdPid?: number;
  /** Every member's pid, by member index. */
  etcdPids?: Array<number | undefined>;
  flanneldPids: Record<string, number>;
  podIps: Record<string, string>;
  podIpv6s?: Record<string, string>;
  /** The fake API server's pid (Kubernetes labs). */
  apiPid?: number;
  /** The image the image host runs (Kubernetes labs). */
  image?: string;
}

export { ETCD_PREFIX, FLANNEL_PASSWORD, FLANNEL_USER } from './lab-etcd.js';

/** The options a running lab was started with (for `lab down`/`status` from another process). */
export function savedLabOptions(prefix: string, stateDir = join('/run/flannel-ts-lab', prefix)): LabOptions | undefined {
  const path = join(stateDir, 'lab.json');
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as LabState).options : undefined;
}

export class Lab {
  readonly layout: LabLayout;
  readonly stateDir: string;
  /** The etcd cluster: members, faults (kill, SIGSTOP, wipe), etcdctl. */
  readonly etcd: LabEtcd;
  /** The Kubernetes side (fake API server, per-host credentials, the image host) of a `kube` lab. */
  readonly kube: LabKube | undefined;
  private state: LabState;

  constructor(readonly options: LabOptions) {
    this.layout = labLayout(options.prefix, options.hosts, options.routedHosts);
    this.stateDir = options.stateDir ?? join('/run/flannel-ts-lab', options.prefix);
    this.state = existsSync(this.statePath) ? (JSON.parse(readFileSync(this.statePath, 'utf8')) as LabState) : { flanneldPids: {}, podIps: {} };
    this.etcd = new LabEtcd({
      layout: this.layout, stateDir: this.stateDir, secure: options.secureEtcd === true, members: options.etcdMembers ?? 1,
      spawn: (args, logPath) => this.spawnDetached(this.layout.etcdNetns, 'etcd', args, logPath),
      pids: () => [...(this.state.etcdPids ?? (this.state.etcdPid === undefined ? [] : [this.state.etcdPid]))],
      savePids: (pids) => {
        this.state.etcdPids = pids;
        this.state.etcdPid = pids[0];
        this.save();
      },
    });
    this.kube = options.kube ? new LabKube({
      layout: this.layout, stateDir: this.stateDir, networkConfig: this.networkConfig(), image: options.kubeImage !== false,
      clusterCidr: options.ipv6Only ? undefined : this.network, clusterCidrV6: this.ipv6 ? LAB_IPV6_NETWORK : undefined,
      node: { execPath: process.execPath, flags: FLANNELD_NODE_FLAGS, flanneld: FLANNELD_JS, fakeApiServer: FAKE_APISERVER_JS },
      spawn: (netns, command, args, logPath) => this.spawnDetached(netns, command, args, logPath),
      pid: () => this.state.apiPid,
      savePid: (pid) => {
        if (pid === undefined) delete this.state.apiPid;
        else this.state.apiPid = pid;
        this.save();
      },
    }) : undefined;
  }

  /** Member 0's client URL. */
  get etcdUrl(): string {
    return this.etcd.urls[0] as string;
  }

  /** Every etcd member's client URL, member 0 first. */
  get etcdUrls(): string[] {
    return this.etcd.urls;
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
      Backend: { Type: this.options.backend, ...(this.options.backendOptions ?? defaultLabBackendOptions(this.options.backend)) },
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

  /** The host's flanneld status socket (every lab host shares the machine's /run: one socket each). */
  statusSocket(host: LabHost): string {
    return join(this.hostDir(host), 'flanneld.sock');
  }

  /** Everything: network, etcd (or the fake API server), config, flanneld on every host, a pod per host. */
  async up(log: (line: string) => void = () => undefined): Promise<void> {
    if (this.kube?.imageHost) this.state.image = ensureLabImage(REPO_ROOT, log).tag;
    this.createNetwork();
    const store = this.kube ? `the API server at ${this.layout.apiIp}` : `etcd at ${this.layout.etcdIp}`;
    log(`underlay ${this.layout.underlayNetns} (198.18.0.0/24), ${this.layout.hosts.length} hosts, ${store}`);
    if (this.kube) {
      await this.kube.start(log);
    } else {
      await this.startEtcd();
      log(`etcd running (pid ${this.state.etcdPid})${this.options.secureEtcd ? ' with TLS client certificates and a role-limited user' : ''}`);
      this.putConfig(this.networkConfig());
    }
    for (const host of this.layout.hosts) this.startFlanneld(host);
    for (const host of this.layout.hosts) {
      await this.waitForSubnetEnv(host, this.kube?.style(host) === 'image' ? 60_000 : 20_000);
      const how = this.kube ? ` (${this.kube.style(host)})` : '';
      log(`${host.name}: flanneld pid ${this.flanneldPid(host)}${how}, ${readFileSync(this.subnetFile(host), 'utf8').split('\n').find((l) => l.startsWith('FLANNEL_SUBNET'))}`);
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
    if (this.kube) this.attach(layout.apiNetns, 'api', [`${layout.apiIp}/24`]);
    else this.attach(layout.etcdNetns, 'etcd', this.etcd.ips.map((ip) => `${ip}/24`));
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

  /** Starts the etcd cluster (and its PKI and users when secure). */
  startEtcd(): Promise<void> {
    return this.etcd.start();
  }

  /** Certificate paths a flanneld uses for the secure etcd. */
  get clientTls(): { ca: string; cert: string; key: string } {
    return this.etcd.clientTls;
  }

  /** etcdctl in the etcd namespace (LabEtcd.etcdctl). */
  etcdctl(args: readonly string[], options: EtcdctlOptions = {}) {
    return this.etcd.etcdctl(args, options);
  }

  putConfig(config: unknown): void {
    this.etcdctl(['put', `${ETCD_PREFIX}/config`, JSON.stringify(config)]);
  }

  /** Default flanneld arguments for a host (etcd endpoint or Kubernetes mode, credentials, interface, subnet file, health port). */
  flanneldArgs(host: LabHost): string[] {
    if (this.kube) return [...this.kube.flanneldArgs(host, this.subnetFile(host)), ...(this.options.flanneldArgs ?? [])];
    const args = ['--etcd-endpoints', this.etcdUrls.join(','), '--iface', 'eth0', '--subnet-file', this.subnetFile(host),
      '--healthz-ip', host.underlayIp, '--healthz-port', String(host.healthzPort), '--status-socket', this.statusSocket(host)];
    if (this.options.secureEtcd) {
      const tls = this.clientTls;
      args.push('--etcd-cafile', tls.ca, '--etcd-certfile', tls.cert, '--etcd-keyfile', tls.key,
        '--etcd-username', FLANNEL_USER, '--etcd-password', FLANNEL_PASSWORD);
    }
    return [...args, ...(this.options.flanneldArgs ?? [])];
  }

  startFlanneld(host: LabHost, args: readonly string[] = this.flanneldArgs(host)): ChildProcess {
    const launch = this.kube?.launch(host, args, this.state.image)
      ?? { netns: host.netns, ...flanneldLaunch(this.options.backend, this.hostDir(host), process.execPath, [...FLANNELD_NODE_FLAGS, FLANNELD_JS, ...args]) };
    const child = this.spawnDetached(launch.netns, launch.command, launch.args, join(this.hostDir(host), 'flanneld.log'), launch.env);
    this.state.flanneldPids[host.name] = child.pid ?? -1;
    this.save();
    return child;
  }

  /**
   * Stops a host's flanneld by its recorded pid and waits for it to exit. One still running 5 s after the
   * signal is killed, and the stop fails saying so (flanneld is meant to stop within a second).
   */
  async stopFlanneld(host: LabHost, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const pid = this.state.flanneldPids[host.name];
    if (pid === undefined) return;
    const started = Date.now();
    if (processAlive(pid)) process.kill(pid, signal);
    for (let attempt = 0; attempt < 100 && processAlive(pid); attempt++) await sleep(50);
    const hung = processAlive(pid);
    if (hung) {
      process.kill(pid, 'SIGKILL');
      for (let attempt = 0; attempt < 40 && processAlive(pid); attempt++) await sleep(50);
    }
    this.kube?.removeContainer(host);
    delete this.state.flanneldPids[host.name];
    this.save();
    if (hung) throw new FlannelError('LAB_FLANNELD', `${host.name}: flanneld (pid ${pid}) still ran ${Date.now() - started} ms after ${signal}; killed it`);
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

  /**
   * Runs a command in a host's network namespace and its flanneld's mount namespace (wireguard: `wg show`
   * finds flanneld's /run/wireguard only there). Throws when the host's flanneld is not running.
   */
  inFlanneld(host: LabHost, command: string, args: readonly string[], options: { allowFailure?: boolean } = {}): RunResult {
    const pid = this.flanneldPid(host);
    if (pid === undefined || !processAlive(pid)) throw new FlannelError('LAB_FLANNELD', `${host.name}: flanneld is not running`);
    return run('nsenter', ['-t', String(pid), '-m', '-n', command, ...args], options);
  }

  /** Stops every recorded process and deletes every lab namespace and the state directory. */
  async down(): Promise<void> {
    for (const host of this.layout.hosts) await this.stopFlanneld(host).catch(() => undefined);
    await this.etcd.stopAll();
    await this.kube?.stopServer();
    const existing = new Set(listNetns());
    // Whatever still runs inside a host (a wireguard-go a SIGKILLed flanneld left behind and its successor
    // adopted) would keep the namespace alive after `ip netns del`: stop those processes by pid.
    await stopProcessesIn(this.layout.hosts.map((host) => host.netns).filter((netns) => existing.has(netns)));
    for (const netns of labNamespaces(this.layout)) {
      if (existing.has(netns)) run('ip', ['netns', 'del', netns], { allowFailure: true });
    }
    rmSync(this.stateDir, { recursive: true, force: true });
    this.state = { flanneldPids: {}, podIps: {} };
  }

  /** Starts `command` in `netns` (undefined: where the lab runs), output to `logPath`, with `env` added. */
  private spawnDetached(netns: string | undefined, command: string, args: readonly string[], logPath: string, env: Readonly<Record<string, string>> = {}): ChildProcess {
    mkdirSync(dirname(logPath), { recursive: true });
    const out = openSync(logPath, 'a');
    const argv = netns === undefined ? [command, ...args] : ['ip', 'netns', 'exec', netns, command, ...args];
    const child = spawn(argv[0] as string, argv.slice(1), { detached: true, stdio: ['ignore', out, out], env: { ...labEnvironment(), ...env } });
    child.unref();
    closeSync(out);
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

/** The lab's environment without what would steer a flanneld (Kubernetes mode settings, FLANNELD_* flags). */
function labEnvironment(): NodeJS.ProcessEnv {
  const names = /^(FLANNELD_|KUBERNETES_SERVICE_)|^(NODE_NAME|POD_NAME|POD_NAMESPACE|EVENT_QUEUE_DEPTH|CONT_WHEN_CACHE_NOT_READY|KUBECONFIG)$/;
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !names.test(name)));
}

/** SIGTERM, then SIGKILL after 2 s, to every process inside these network namespaces (`ip netns pids`). */
async function stopProcessesIn(namespaces: readonly string[]): Promise<void> {
  const pids = () => namespaces.flatMap((netns) => run('ip', ['netns', 'pids', netns], { allowFailure: true }).stdout.split('\n').map(Number).filter((pid) => pid > 1));
  const signal = (name: NodeJS.Signals) => {
    for (const pid of pids()) {
      try {
        process.kill(pid, name);
      } catch {
        // gone already
      }
    }
  };
  if (pids().length === 0) return;
  signal('SIGTERM');
  for (let waited = 0; waited < 2000 && pids().length > 0; waited += 50) await sleep(50);
  signal('SIGKILL');
}
