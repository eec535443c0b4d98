#!/usr/bin/env node
/**
 * fake-apiserver: the in-repo fake Kubernetes API server as a process, so that any client (flanneld, upstream
 * flanneld, kubectl) can be pointed at it. See USAGE. SIGUSR1 compacts the watch history (watches from older
 * resourceVersions then get 410 Gone); SIGUSR2 cuts every open watch; SIGINT/SIGTERM stop it.
 */
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { readTextIfExists, writeFileAtomic } from '../adapters/files/atomic-file.js';
import { type AnsweredRequest, FakeApiServer } from '../adapters/kube/fake-apiserver.js';
import { ClusterStore, MANUAL_POD_CIDR_ANNOTATION, type StoreSnapshot } from '../kube-fake/cluster-store.js';
import { Cidr } from '../net/ip.js';
import { errorMessage } from '../support/errors.js';

const USAGE = `Usage: fake-apiserver [OPTION]...
A fake Kubernetes API server (nodes, nodes/status, pods; list, watch, patch) for flannel's tests and labs.

  --listen HOST:PORT           address to serve on (default 127.0.0.1:6443; port 0 picks one)
  --listen-unix PATH           also serve plain HTTP on this Unix socket (same tokens; for local tools)
  --tls-cert-file FILE         PEM server certificate: serve https (with --tls-private-key-file)
  --tls-private-key-file FILE  PEM key of the server certificate
  --client-ca-file FILE        accept client certificates signed by this CA as authentication
  --token TOKEN                accept this bearer token (repeatable); no token and no client CA: anonymous
  --token-file FILE            accept every non-empty line of FILE as a bearer token
  --cluster-cidr CIDR          give new nodes IPv4 pod CIDRs from CIDR (the controller-manager's job)
  --cluster-cidr-v6 CIDR       … and IPv6 pod CIDRs from CIDR (dual stack when both are given)
  --node-cidr-mask-size N      prefix length of IPv4 pod CIDRs (default 24)
  --node-cidr-mask-size-v6 N   prefix length of IPv6 pod CIDRs (default 64)
  --pod-cidr-delay-ms N        assign a new node's pod CIDR N ms after it registers (default 0: at once)
  --node NAME[=CIDR[,CIDR]]    register a node at start, with these pod CIDRs or allocated ones (repeatable)
  --pod NAMESPACE/NAME=NODE    create a pod scheduled on NODE (for POD_NAME/POD_NAMESPACE lookups; repeatable)
  --bookmark-interval-ms N     send BOOKMARK events to watches that allow them every N ms (default 0: never)
  --gone-as event|status       answer a watch from a compacted resourceVersion with an ERROR event (default)
                               or with HTTP 410
  --max-history N              watch history kept before older resourceVersions become 410 (default 10000)
  --write-kubeconfig FILE      write a kubeconfig for this server (first token; the server certificate as CA)
  --state-file FILE            keep nodes, pods and the resourceVersion counter in FILE: loaded at start when it
                               exists, saved when the server stops (SIGINT/SIGTERM). A restarted server has no
                               watch history: watches from before the restart get 410 Gone (compaction)
  --request-log FILE           append one line per answered request: time, user, method, target, status, ms
  -h, --help                   this text

Prints "fake-apiserver listening on URL" once serving. Signals: SIGUSR1 compacts the history, SIGUSR2 cuts
every open watch, SIGINT/SIGTERM stop. A node created with the annotation
${MANUAL_POD_CIDR_ANNOTATION} gets no pod CIDR from --cluster-cidr (patch spec.podCIDR yourself).
`;

async function main(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        listen: { type: 'string', default: '127.0.0.1:6443' }, 'listen-unix': { type: 'string' },
        'tls-cert-file': { type: 'string' }, 'tls-private-key-file': { type: 'string' }, 'client-ca-file': { type: 'string' },
        token: { type: 'string', multiple: true, default: [] }, 'token-file': { type: 'string' },
        'cluster-cidr': { type: 'string' }, 'cluster-cidr-v6': { type: 'string' },
        'node-cidr-mask-size': { type: 'string', default: '24' }, 'node-cidr-mask-size-v6': { type: 'string', default: '64' },
        'pod-cidr-delay-ms': { type: 'string', default: '0' },
        node: { type: 'string', multiple: true, default: [] }, pod: { type: 'string', multiple: true, default: [] },
        'bookmark-interval-ms': { type: 'string', default: '0' }, 'gone-as': { type: 'string', default: 'event' },
        'max-history': { type: 'string', default: '10000' }, 'write-kubeconfig': { type: 'string' },
        'state-file': { type: 'string' }, 'request-log': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (error) {
    process.stderr.write(`${errorMessage(error)}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  try {
    const number = (name: string, text: string) => {
      if (!/^\d+$/.test(text)) throw new Error(`--${name}: want a non-negative integer, got ${JSON.stringify(text)}`);
      return Number(text);
    };
    const cidr = (name: string, text: string | undefined) => {
      if (text === undefined) return undefined;
      const parsed = Cidr.tryParse(text);
      if (!parsed) throw new Error(`--${name}: invalid CIDR ${JSON.stringify(text)}`);
      return parsed.masked();
    };
    const listen = /^(.*):(\d+)$/.exec(values.listen);
    if (!listen) throw new Error(`--listen: want HOST:PORT, got ${JSON.stringify(values.listen)}`);
    if (values['gone-as'] !== 'event' && values['gone-as'] !== 'status') throw new Error(`--gone-as: want event or status, got ${JSON.stringify(values['gone-as'])}`);
    const tokens = [...values.token];
    if (values['token-file']) tokens.push(...readFileSync(values['token-file'], 'utf8').split('\n').map((line) => line.trim()).filter((line) => line !== ''));
    const certFile = values['tls-cert-file'];
    const keyFile = values['tls-private-key-file'];
    if ((certFile === undefined) !== (keyFile === undefined)) throw new Error('--tls-cert-file and --tls-private-key-file go together');
    const clusterCidr = cidr('cluster-cidr', values['cluster-cidr']);
    const clusterCidrV6 = cidr('cluster-cidr-v6', values['cluster-cidr-v6']);
    const store = new ClusterStore({
      ...(clusterCidr ? { clusterCidr } : {}), ...(clusterCidrV6 ? { clusterCidrV6 } : {}),
      nodeCidrMaskSize: number('node-cidr-mask-size', values['node-cidr-mask-size']),
      nodeCidrMaskSizeV6: number('node-cidr-mask-size-v6', values['node-cidr-mask-size-v6']),
      maxHistory: Math.max(1, number('max-history', values['max-history'])),
    });
    const stateFile = values['state-file'];
    const saved = stateFile === undefined ? undefined : readTextIfExists(stateFile);
    if (saved !== undefined) store.restore(parseSnapshot(saved, stateFile as string));
    for (const spec of values.node) {
      const [name = '', cidrs] = spec.split('=', 2);
      const podCIDRs = cidrs ? cidrs.split(',') : [];
      // A node restored from --state-file stays as it was.
      if (saved !== undefined && store.listNodes().items.some((node) => (node.metadata as { name?: string }).name === name)) continue;
      store.createNode({ metadata: { name }, spec: podCIDRs.length > 0 ? { podCIDR: podCIDRs[0], podCIDRs } : {} });
    }
    for (const spec of values.pod) {
      const match = /^([^/]+)\/([^=]+)=(.+)$/.exec(spec);
      if (!match) throw new Error(`--pod: want NAMESPACE/NAME=NODE, got ${JSON.stringify(spec)}`);
      if (saved !== undefined && hasPod(store, match[1] as string, match[2] as string)) continue;
      store.createPod(match[1] as string, { metadata: { name: match[2] }, spec: { nodeName: match[3] } });
    }
    const requestLog = values['request-log'];
    const server = await FakeApiServer.start({
      store, host: listen[1] as string, port: Number(listen[2]), tokens,
      ...(certFile && keyFile ? { tls: { cert: readFileSync(certFile), key: readFileSync(keyFile), ...(values['client-ca-file'] ? { clientCa: readFileSync(values['client-ca-file']) } : {}) } } : {}),
      goneAs: values['gone-as'],
      bookmarkIntervalMs: number('bookmark-interval-ms', values['bookmark-interval-ms']),
      podCidrDelayMs: number('pod-cidr-delay-ms', values['pod-cidr-delay-ms']),
      recordRequests: false,
      ...(values['listen-unix'] === undefined ? {} : { unixSocket: values['listen-unix'] }),
      ...(requestLog === undefined ? {} : { onAnswered: (answer: AnsweredRequest) => appendFileSync(requestLog, requestLine(answer)) }),
    });
    if (values['write-kubeconfig']) {
      writeFileSync(values['write-kubeconfig'], kubeconfig(server.url, tokens[0], certFile ? readFileSync(certFile) : undefined), { mode: 0o600 });
    }
    process.stdout.write(`fake-apiserver listening on ${server.url}\n`);
    process.on('SIGUSR1', () => server.store.compact());
    process.on('SIGUSR2', () => server.dropWatches());
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    await server.close();
    // Saved once, at the end: serialising thousands of nodes on every change would stall the server.
    if (stateFile !== undefined) writeFileAtomic(stateFile, JSON.stringify(store.snapshot()), 0o600);
    return 0;
  } catch (error) {
    process.stderr.write(`fake-apiserver: ${errorMessage(error)}\n`);
    return 1;
  }
}

function hasPod(store: ClusterStore, namespace: string, name: string): boolean {
  try {
    store.getPod(namespace, name);
    return true;
  } catch {
    return false;
  }
}

function parseSnapshot(text: string, path: string): StoreSnapshot {
  try {
    return JSON.parse(text) as StoreSnapshot;
  } catch (error) {
    throw new Error(`--state-file ${path}: not JSON: ${errorMessage(error)}`);
  }
}

function requestLine(answer: AnsweredRequest): string {
  return `${new Date().toISOString()} ${answer.user} ${answer.method} ${answer.target} ${answer.status} ${answer.durationMs}\n`;
}

function kubeconfig(server: string, token: string | undefined, ca: Buffer | undefined): string {
  return JSON.stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': 'fake',
    clusters: [{ name: 'fake', cluster: { server, ...(ca ? { 'certificate-authority-data': ca.toString('base64') } : {}) } }],
    users: [{ name: 'fake', user: token ? { token } : {} }],
    contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'fake' } }],
  }, null, 2) + '\n';
}

process.exit(await main(process.argv.slice(2)));
