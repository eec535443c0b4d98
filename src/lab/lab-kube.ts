/**
 * The Kubernetes side of a lab (`flannelctl lab … --kube`): the fake API server (src/cmd/fake-apiserver.ts) in
 * its own namespace at 198.18.0.9:6443 with TLS and bearer tokens, playing the controller-manager (pod CIDRs
 * for new nodes from the lab's network) and keeping its state in a file so that it can be restarted; every
 * host registered as a Node; and each host's flanneld reaching it the way flanneld is deployed for real:
 *
 * - host 1 and hosts past the third: a kubeconfig file (server, CA, token) and NODE_NAME;
 * - host 2: in-cluster — KUBERNETES_SERVICE_HOST/PORT and a service-account token and CA at
 *   /var/run/secrets/kubernetes.io/serviceaccount, shown to that flanneld alone in a private mount namespace
 *   (a per-host /run, with the lab's state directory bound into it);
 * - host 3: the built image under podman, in the host's network namespace (the DaemonSet's hostNetwork), with
 *   the DaemonSet's arguments, capabilities and mounts and POD_NAME/POD_NAMESPACE for finding its node.
 *
 * The lab's own requests go through the server's Unix socket (LabKubeAdmin). Processes are stopped by the pids
 * recorded at start; the image host's container is named after the lab prefix and host.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { FlannelError } from '../support/errors.js';
import { sleep } from '../support/timing.js';
import { LabKubeAdmin, type JsonObject } from './lab-kube-admin.js';
import type { LabHost, LabLayout } from './lab-layout.js';
import { makeLabPki } from './lab-pki.js';
import { processAlive, run } from './shell.js';

export const API_PORT = 6443;
/** The DaemonSet's namespace (deploy/kube-flannel.yml); the image host's pod lives there. */
export const FLANNEL_NAMESPACE = 'kube-flannel';
const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export type KubeHostStyle = 'kubeconfig' | 'in-cluster' | 'image';

/** How a flanneld is started: in `netns` (undefined: podman joins it itself), with `env` added. */
export interface Launch {
  readonly netns: string | undefined;
  readonly command: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
}

export interface LabKubeOptions {
  readonly layout: LabLayout;
  readonly stateDir: string;
  /** The network config (net-conf.json). */
  readonly networkConfig: JsonObject;
  readonly clusterCidr: string | undefined;
  readonly clusterCidrV6: string | undefined;
  /** Run host 3 from the image (default true). */
  readonly image: boolean;
  /** Where `node`, flanneld.js and fake-apiserver.js are, and the repository (for the image build). */
  readonly node: { readonly execPath: string; readonly flags: readonly string[]; readonly flanneld: string; readonly fakeApiServer: string };
  readonly spawn: (netns: string, command: string, args: readonly string[], logPath: string) => ChildProcess;
  readonly pid: () => number | undefined;
  readonly savePid: (pid: number | undefined) => void;
}

export class LabKube {
  readonly url: string;
  readonly admin: LabKubeAdmin;

  constructor(private readonly options: LabKubeOptions) {
    this.url = `https://${options.layout.apiIp}:${API_PORT}`;
    this.admin = new LabKubeAdmin(join(options.stateDir, 'apiserver.sock'), () => this.token('admin'));
  }

  /** How host `index` (0-based) reaches the API server. */
  style(host: LabHost): KubeHostStyle {
    const index = this.options.layout.hosts.indexOf(host);
    if (index === 1) return 'in-cluster';
    if (index === 2 && this.options.image) return 'image';
    return 'kubeconfig';
  }

  get imageHost(): LabHost | undefined {
    return this.options.layout.hosts.find((host) => this.style(host) === 'image');
  }

  /** PKI, tokens, config files, the API server, and every host registered as a Node (with its pod CIDRs). */
  async start(log: (line: string) => void): Promise<void> {
    const { layout, stateDir } = this.options;
    makeLabPki(this.pkiDir, 'flannel-ts-lab-kube-ca', [
      { name: 'apiserver', commonName: 'kube-apiserver', usage: 'serverAuth', altNames: [`IP:${layout.apiIp}`, 'DNS:kubernetes.default.svc'] },
    ]);
    const tokens = ['admin', ...layout.hosts.map((host) => host.name)].map((who) => this.token(who, true));
    writeFileSync(join(stateDir, 'tokens'), tokens.join('\n') + '\n', { mode: 0o600 });
    mkdirSync(this.configDir, { recursive: true });
    writeFileSync(join(this.configDir, 'net-conf.json'), JSON.stringify(this.options.networkConfig, null, 2) + '\n');
    for (const host of layout.hosts) this.writeCredentials(host);
    await this.startServer();
    log(`fake API server ${this.url} in ${layout.apiNetns} (pid ${this.options.pid()}), pod CIDRs from ${[this.options.clusterCidr, this.options.clusterCidrV6].filter(Boolean).join(' and ')}`);
    for (const host of layout.hosts) {
      await this.registerNode(host);
      if (this.style(host) === 'image') {
        await this.admin.request('POST', `/api/v1/namespaces/${FLANNEL_NAMESPACE}/pods`, { metadata: { name: this.podName(host) }, spec: { nodeName: host.name } });
      }
    }
  }

  /** Registers `host` as a Node (as its kubelet would); the server assigns pod CIDRs unless `manualPodCidr`. */
  async registerNode(host: LabHost, options: { manualPodCidr?: boolean } = {}): Promise<JsonObject> {
    return this.admin.request('POST', '/api/v1/nodes', {
      metadata: {
        name: host.name, labels: { 'kubernetes.io/hostname': host.name, 'kubernetes.io/os': 'linux' },
        ...(options.manualPodCidr ? { annotations: { 'fake-apiserver.flannel-ts.io/manual-pod-cidr': 'true' } } : {}),
      },
      status: { addresses: [{ type: 'InternalIP', address: host.underlayIp }, { type: 'Hostname', address: host.name }] },
    });
  }

  node(name: string): Promise<JsonObject> {
    return this.admin.request('GET', `/api/v1/nodes/${name}`);
  }

  /** Starts the API server (restoring its state file when there is one) and waits until it answers. */
  async startServer(): Promise<void> {
    const { layout, stateDir, node } = this.options;
    const args = [
      ...node.flags, node.fakeApiServer, '--listen', `${layout.apiIp}:${API_PORT}`, '--listen-unix', join(stateDir, 'apiserver.sock'),
      '--tls-cert-file', join(this.pkiDir, 'apiserver.crt'), '--tls-private-key-file', join(this.pkiDir, 'apiserver.key'),
      '--token-file', join(stateDir, 'tokens'), '--state-file', join(stateDir, 'apiserver-state.json'),
      '--request-log', this.requestLogPath, '--bookmark-interval-ms', '5000',
      ...(this.options.clusterCidr ? ['--cluster-cidr', this.options.clusterCidr] : []),
      ...(this.options.clusterCidrV6 ? ['--cluster-cidr-v6', this.options.clusterCidrV6] : []),
    ];
    run('rm', ['-f', join(stateDir, 'apiserver.sock')]);
    const child = this.options.spawn(layout.apiNetns, node.execPath, args, join(stateDir, 'apiserver.log'));
    this.options.savePid(child.pid);
    for (let attempt = 0; attempt < 200; attempt++) {
      if (await this.admin.ready()) return;
      const pid = this.options.pid();
      if (pid === undefined || !processAlive(pid)) break;
      await sleep(50);
    }
    throw new FlannelError('LAB_KUBE', `the fake API server did not start; log:\n${readText(join(stateDir, 'apiserver.log')).slice(-2000)}`);
  }

  /** Stops the API server (it saves its state on the way out) and waits for it to exit. */
  async stopServer(): Promise<void> {
    const pid = this.options.pid();
    if (pid === undefined) return;
    if (processAlive(pid)) process.kill(pid, 'SIGTERM');
    for (let attempt = 0; attempt < 200 && processAlive(pid); attempt++) await sleep(25);
    if (processAlive(pid)) process.kill(pid, 'SIGKILL');
    this.options.savePid(undefined);
  }

  /** How to start `host`'s flanneld with `args` (Lab.flanneldArgs), per its style. */
  launch(host: LabHost, args: readonly string[], image: string | undefined): Launch {
    const { execPath, flags, flanneld } = this.options.node;
    const flanneldCommand = [execPath, ...flags, flanneld, ...args];
    switch (this.style(host)) {
      case 'kubeconfig':
        return { netns: host.netns, command: execPath, args: flanneldCommand.slice(1), env: { NODE_NAME: host.name } };
      case 'in-cluster': {
        // A /run of its own: the service-account files at the in-cluster path, the lab's state bound in.
        const script = 'set -e; if [ -n "$2" ]; then mount --bind "$3" "$1$2"; fi; mount --rbind "$1" /run; shift 3; exec "$@"';
        return {
          netns: host.netns, command: 'unshare',
          args: ['--mount', '--propagation', 'private', '--', 'sh', '-c', script, 'sh', this.privateRun(host), this.stateUnderRun ?? '', this.options.stateDir, ...flanneldCommand],
          env: { NODE_NAME: host.name, KUBERNETES_SERVICE_HOST: this.options.layout.apiIp, KUBERNETES_SERVICE_PORT: String(API_PORT) },
        };
      }
      case 'image': {
        if (!image) throw new FlannelError('LAB_KUBE', `${host.name} runs from the image, and there is none`);
        return {
          netns: undefined, command: 'podman', env: {},
          args: [
            'run', '--rm', '--name', this.containerName(host), '--pull=never', '--network', `ns:/run/netns/${host.netns}`,
            // This sandbox may not raise resource limits (no CAP_SYS_RESOURCE); podman's defaults would try to.
            '--ulimit', 'nofile=4096:4096', '--ulimit', 'nproc=4096:4096',
            '--cap-drop', 'all', '--cap-add', 'NET_ADMIN', '--cap-add', 'NET_RAW',
            '-e', `POD_NAME=${this.podName(host)}`, '-e', `POD_NAMESPACE=${FLANNEL_NAMESPACE}`, '-e', 'EVENT_QUEUE_DEPTH=5000',
            '-e', 'CONT_WHEN_CACHE_NOT_READY=false', '-e', `KUBERNETES_SERVICE_HOST=${this.options.layout.apiIp}`, '-e', `KUBERNETES_SERVICE_PORT=${API_PORT}`,
            '-v', `${join(this.options.stateDir, host.name)}:/run/flannel`, '-v', `${this.configDir}:/etc/kube-flannel:ro`,
            '-v', `${this.serviceAccountDir(host)}:${SERVICE_ACCOUNT_DIR}:ro`,
            image, ...args,
          ],
        };
      }
    }
  }

  /** flanneld's arguments for `host`: the DaemonSet's for the image host, the equivalent on the others. */
  flanneldArgs(host: LabHost, subnetFile: string): string[] {
    const common = ['--iface', 'eth0', '--healthz-ip', host.underlayIp, '--healthz-port', String(host.healthzPort)];
    if (this.style(host) === 'image') return ['--ip-masq', '--kube-subnet-mgr', ...common];
    return ['--kube-subnet-mgr', '--subnet-file', subnetFile, '--net-config-path', join(this.configDir, 'net-conf.json'), ...common,
      ...(this.style(host) === 'kubeconfig' ? ['--kubeconfig-file', this.kubeconfigPath(host)] : [])];
  }

  /** After `host`'s flanneld stopped: its container is gone (podman removes it; a crash may leave it). */
  removeContainer(host: LabHost): void {
    if (this.style(host) !== 'image') return;
    const name = this.containerName(host);
    if (run('podman', ['container', 'exists', name], { allowFailure: true }).status === 0) run('podman', ['rm', '-f', '-t', '2', name], { allowFailure: true });
  }

  /** The token file a host's flanneld reads (in-cluster and image hosts; write it to rotate or break the token). */
  tokenFile(host: LabHost): string {
    return join(this.serviceAccountDir(host), 'token');
  }

  /** The bearer token of `who` ('admin' or a host name), as the server accepts it. */
  token(who: string, create = false): string {
    const path = join(this.options.stateDir, 'tokens.d', who);
    if (create) {
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      writeFileSync(path, `${who}-${randomBytes(12).toString('hex')}`, { mode: 0o600 });
    }
    return readText(path);
  }

  /** Each Node as flannel left it: pod CIDRs, flannel's annotations, the NetworkUnavailable condition. */
  async describeNodes(): Promise<string[]> {
    const list = await this.admin.request('GET', '/api/v1/nodes');
    const lines: string[] = [];
    for (const item of (list.items ?? []) as JsonObject[]) {
      const metadata = item.metadata as JsonObject;
      const spec = (item.spec ?? {}) as JsonObject;
      lines.push(`${String(metadata.name)}: podCIDRs ${JSON.stringify(spec.podCIDRs ?? [])}`);
      const annotations = (metadata.annotations ?? {}) as Record<string, string>;
      for (const key of Object.keys(annotations).sort()) if (key.startsWith('flannel.')) lines.push(`  ${key}=${annotations[key]}`);
      const conditions = (((item.status ?? {}) as JsonObject).conditions ?? []) as JsonObject[];
      for (const condition of conditions) {
        lines.push(`  condition ${String(condition.type)}=${String(condition.status)} reason=${String(condition.reason)} message=${JSON.stringify(condition.message)} since ${String(condition.lastTransitionTime)}`);
      }
    }
    return lines;
  }

  /** Every request the API server answered so far: `time user method target status ms` per line. */
  requestLog(): string {
    return readText(this.requestLogPath);
  }

  get configDir(): string {
    return join(this.options.stateDir, 'kube-flannel');
  }

  /** The state directory's path below /run, when it is there (the in-cluster host's private /run must show it). */
  private get stateUnderRun(): string | undefined {
    const dir = this.options.stateDir.replace(/^\/var\/run\//, '/run/');
    return dir.startsWith('/run/') ? dir.slice('/run'.length) : undefined;
  }

  private get requestLogPath(): string {
    return join(this.options.stateDir, 'apiserver-requests.log');
  }

  private get pkiDir(): string {
    return join(this.options.stateDir, 'kube-pki');
  }

  private kubeconfigPath(host: LabHost): string {
    return join(this.options.stateDir, host.name, 'kubeconfig');
  }

  private privateRun(host: LabHost): string {
    return join(this.options.stateDir, host.name, 'run');
  }

  private serviceAccountDir(host: LabHost): string {
    return this.style(host) === 'in-cluster' ? join(this.privateRun(host), 'secrets', 'kubernetes.io', 'serviceaccount') : join(this.options.stateDir, host.name, 'serviceaccount');
  }

  private containerName(host: LabHost): string {
    return `${this.options.layout.prefix}-${host.name}-flanneld`;
  }

  private podName(host: LabHost): string {
    return `kube-flannel-ds-${host.name}`;
  }

  private writeCredentials(host: LabHost): void {
    const ca = readFileSync(join(this.pkiDir, 'ca.crt'));
    if (this.style(host) === 'kubeconfig') {
      mkdirSync(dirname(this.kubeconfigPath(host)), { recursive: true });
      writeFileSync(this.kubeconfigPath(host), JSON.stringify({
        apiVersion: 'v1', kind: 'Config', 'current-context': 'lab',
        clusters: [{ name: 'lab', cluster: { server: this.url, 'certificate-authority-data': ca.toString('base64') } }],
        users: [{ name: host.name, user: { token: this.token(host.name) } }],
        contexts: [{ name: 'lab', context: { cluster: 'lab', user: host.name } }],
      }, null, 2) + '\n', { mode: 0o600 });
      return;
    }
    const dir = this.serviceAccountDir(host);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'token'), this.token(host.name), { mode: 0o600 });
    writeFileSync(join(dir, 'ca.crt'), ca);
    writeFileSync(join(dir, 'namespace'), FLANNEL_NAMESPACE);
    if (this.style(host) === 'in-cluster' && this.stateUnderRun) mkdirSync(join(this.privateRun(host), this.stateUnderRun), { recursive: true });
  }
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return '';
  }
}
