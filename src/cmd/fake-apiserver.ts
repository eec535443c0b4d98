#!/usr/bin/env node
/**
 * fake-apiserver: the in-repo fake Kubernetes API server as a process, so that any client (flanneld, upstream
 * flanneld, kubectl) can be pointed at it. See USAGE. SIGUSR1 compacts the watch history (watches from older
 * resourceVersions then get 410 Gone); SIGUSR2 cuts every open watch; SIGINT/SIGTERM stop it.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { FakeApiServer } from '../adapters/kube/fake-apiserver.js';
import { ClusterStore } from '../kube-fake/cluster-store.js';
import { Cidr } from '../net/ip.js';
import { errorMessage } from '../support/errors.js';

const USAGE = `Usage: fake-apiserver [OPTION]...
A fake Kubernetes API server (nodes, nodes/status, pods; list, watch, patch) for flannel's tests and labs.

  --listen HOST:PORT           address to serve on (default 127.0.0.1:6443; port 0 picks one)
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
  -h, --help                   this text

Prints "fake-apiserver listening on URL" once serving. Signals: SIGUSR1 compacts the history, SIGUSR2 cuts
every open watch, SIGINT/SIGTERM stop.
`;

async function main(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        listen: { type: 'string', default: '127.0.0.1:6443' },
        'tls-cert-file': { type: 'string' }, 'tls-private-key-file': { type: 'string' }, 'client-ca-file': { type: 'string' },
        token: { type: 'string', multiple: true, default: [] }, 'token-file': { type: 'string' },
        'cluster-cidr': { type: 'string' }, 'cluster-cidr-v6': { type: 'string' },
        'node-cidr-mask-size': { type: 'string', default: '24' }, 'node-cidr-mask-size-v6': { type: 'string', default: '64' },
        'pod-cidr-delay-ms': { type: 'string', default: '0' },
        node: { type: 'string', multiple: true, default: [] }, pod: { type: 'string', multiple: true, default: [] },
        'bookmark-interval-ms': { type: 'string', default: '0' }, 'gone-as': { type: 'string', default: 'event' },
        'max-history': { type: 'string', default: '10000' }, 'write-kubeconfig': { type: 'string' },
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
    for (const spec of values.node) {
      const [name = '', cidrs] = spec.split('=', 2);
      const podCIDRs = cidrs ? cidrs.split(',') : [];
      store.createNode({ metadata: { name }, spec: podCIDRs.length > 0 ? { podCIDR: podCIDRs[0], podCIDRs } : {} });
    }
    for (const spec of values.pod) {
      const match = /^([^/]+)\/([^=]+)=(.+)$/.exec(spec);
      if (!match) throw new Error(`--pod: want NAMESPACE/NAME=NODE, got ${JSON.stringify(spec)}`);
      store.createPod(match[1] as string, { metadata: { name: match[2] }, spec: { nodeName: match[3] } });
    }
    const server = await FakeApiServer.start({
      store, host: listen[1] as string, port: Number(listen[2]), tokens,
      ...(certFile && keyFile ? { tls: { cert: readFileSync(certFile), key: readFileSync(keyFile), ...(values['client-ca-file'] ? { clientCa: readFileSync(values['client-ca-file']) } : {}) } } : {}),
      goneAs: values['gone-as'],
      bookmarkIntervalMs: number('bookmark-interval-ms', values['bookmark-interval-ms']),
      podCidrDelayMs: number('pod-cidr-delay-ms', values['pod-cidr-delay-ms']),
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
    return 0;
  } catch (error) {
    process.stderr.write(`fake-apiserver: ${errorMessage(error)}\n`);
    return 1;
  }
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
