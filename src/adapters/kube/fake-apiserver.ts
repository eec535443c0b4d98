/**
 * A fake Kubernetes API server on the real wire format, for what flannel uses (and what kubectl needs to talk to
 * it): discovery, GET/LIST/WATCH/POST/DELETE/PATCH nodes, GET/PATCH nodes/<n>/status, GET/POST/DELETE pods.
 * State and semantics live in ClusterStore (src/kube-fake/), watch streams in FakeWatches (fake-watches.ts:
 * replay, BOOKMARKs, timeouts, 410 as a status or an ERROR event per `goneAs`); this file is HTTP: routing,
 * bearer-token and client-certificate authentication, TLS (and a plain Unix socket for local tools), list
 * paging, and fault knobs for tests: `dropWatches({ midEvent })` cuts every open watch (optionally after half an
 * event), `failNext(n, status, retryAfterSeconds)` fails the next n requests, `requests` records what clients
 * sent, `onAnswered` reports each answer (the CLI's request log).
 */
import { randomBytes } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { ApiStatusError, type JsonObject, badRequest } from '../../kube-fake/api-status.js';
import { ClusterStore } from '../../kube-fake/cluster-store.js';
import { PATCH_TYPES, type PatchType } from '../../kube-fake/patches.js';
import { API_GROUP_LIST, API_V1_RESOURCES, API_VERSIONS, VERSION_INFO } from '../../kube-fake/discovery.js';
import { FakeWatches } from './fake-watches.js';
import { readLimited } from './read-limited.js';

export interface FakeApiServerOptions {
  readonly store?: ClusterStore;
  readonly host?: string;
  readonly port?: number;
  /** PEM server certificate and key: serve https. */
  readonly tls?: { readonly cert: Buffer | string; readonly key: Buffer | string; readonly clientCa?: Buffer | string };
  /** Accepted bearer tokens. With none and no client CA, every request is allowed (anonymous). */
  readonly tokens?: readonly string[];
  readonly goneAs?: 'event' | 'status';
  /** 0: never send bookmarks. */
  readonly bookmarkIntervalMs?: number;
  /** Delay before the controller-manager part assigns a new node's pod CIDR (0: at once). */
  readonly podCidrDelayMs?: number;
  /**
   * Also serve plain HTTP on this Unix socket (same tokens): a local client outside the server's network
   * namespace (the lab) reaches it through the file system.
   */
  readonly unixSocket?: string;
  /** Keep every request in `requests` (default true; a long-running process turns it off). */
  readonly recordRequests?: boolean;
  /** Called when each answer has been sent (a watch: when its stream ends), e.g. for a request log. */
  readonly onAnswered?: (request: AnsweredRequest) => void;
}

export interface AnsweredRequest {
  readonly method: string;
  readonly target: string;
  readonly user: string;
  readonly status: number;
  readonly durationMs: number;
}

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly query: string;
  readonly contentType: string;
  readonly body: string;
  readonly user: string;
}

const PUBLIC_PATHS = new Set(['/healthz', '/livez', '/readyz', '/version']);
const MAX_REQUEST_BYTES = 4 * 1024 * 1024;

export class FakeApiServer {
  readonly store: ClusterStore;
  readonly requests: RecordedRequest[] = [];
  goneAs: 'event' | 'status';
  private tokens: Set<string>;
  private readonly watches: FakeWatches;
  private failures: { count: number; status: number; retryAfterSeconds?: number } | undefined;
  private readonly continuations = new Map<string, { items: JsonObject[]; resourceVersion: string }>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly unsubscribe: () => void;
  /** The Unix-socket server, when asked for. */
  private local: http.Server | undefined;

  private constructor(
    private readonly server: http.Server,
    private readonly options: FakeApiServerOptions,
    store: ClusterStore,
  ) {
    this.store = store;
    this.goneAs = options.goneAs ?? 'event';
    this.tokens = new Set(options.tokens ?? []);
    this.watches = new FakeWatches({ store, goneAs: () => this.goneAs, bookmarkIntervalMs: options.bookmarkIntervalMs ?? 0 });
    this.unsubscribe = store.subscribe((event) => this.watches.broadcast(event));
  }

  static async start(options: FakeApiServerOptions = {}): Promise<FakeApiServer> {
    const store = options.store ?? new ClusterStore({ clusterCidr: undefined });
    const server = options.tls
      ? https.createServer({ cert: options.tls.cert, key: options.tls.key, ...(options.tls.clientCa ? { ca: options.tls.clientCa, requestCert: true, rejectUnauthorized: false } : {}) })
      : http.createServer();
    const fake = new FakeApiServer(server, options, store);
    server.on('request', (request: IncomingMessage, response: ServerResponse) => fake.handle(request, response));
    server.on('clientError', (_error, socket) => socket.destroy());
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
    });
    if (options.unixSocket !== undefined) {
      const local = http.createServer();
      local.on('request', (request: IncomingMessage, response: ServerResponse) => fake.handle(request, response));
      await new Promise<void>((resolve, reject) => {
        local.once('error', reject);
        local.listen(options.unixSocket, () => resolve());
      });
      fake.local = local;
    }
    return fake;
  }

  get url(): string {
    const address = this.server.address() as AddressInfo;
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    return `${this.options.tls ? 'https' : 'http'}://${host}:${address.port}`;
  }

  setTokens(tokens: readonly string[]): void {
    this.tokens = new Set(tokens);
  }

  /** Cut every open watch; with `midEvent`, after writing the first half of a made-up event. */
  dropWatches(options: { midEvent?: boolean } = {}): number {
    return this.watches.drop(options);
  }

  /** The next `count` requests fail with `status` (429 and 503 carry Retry-After when given). */
  failNext(count: number, status: number, retryAfterSeconds?: number): void {
    this.failures = { count, status, ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }) };
  }

  get openWatches(): number {
    return this.watches.size;
  }

  async close(): Promise<void> {
    this.unsubscribe();
    for (const timer of this.timers) clearTimeout(timer);
    this.dropWatches();
    for (const server of [this.server, ...(this.local ? [this.local] : [])]) {
      server.closeAllConnections?.();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://fake');
    let body = '';
    const started = Date.now();
    let user = '';
    if (this.options.onAnswered) {
      const report = this.options.onAnswered;
      response.on('close', () => report({ method: request.method ?? '', target: request.url ?? '', user: user || '-', status: response.statusCode, durationMs: Date.now() - started }));
    }
    try {
      body = await readRequest(request);
      user = this.authenticate(request);
      if (this.options.recordRequests !== false) {
        this.requests.push({ method: request.method ?? '', path: url.pathname, query: url.search, contentType: request.headers['content-type'] ?? '', body, user });
      }
      if (user === '' && !PUBLIC_PATHS.has(url.pathname)) throw new ApiStatusError(401, 'Unauthorized', 'Unauthorized');
      if (this.failures && this.failures.count > 0) {
        this.failures.count--;
        const { status, retryAfterSeconds } = this.failures;
        if (retryAfterSeconds !== undefined) response.setHeader('retry-after', String(retryAfterSeconds));
        throw new ApiStatusError(status, status === 429 ? 'TooManyRequests' : 'InternalError', `injected failure ${status}`);
      }
      await this.route(request.method ?? 'GET', url, body, request, response);
    } catch (error) {
      if (response.headersSent) {
        response.destroy();
        return;
      }
      const status = error instanceof ApiStatusError ? error : new ApiStatusError(500, 'InternalError', (error as Error).message);
      send(response, status.code, status.toStatus());
    }
  }

  private authenticate(request: IncomingMessage): string {
    const socket = request.socket as TLSSocket;
    if (this.options.tls?.clientCa && socket.authorized) {
      // authorized can be true without a client certificate (no certificate, nothing to reject).
      const subject = socket.getPeerCertificate?.()?.subject as { CN?: string } | undefined;
      if (subject?.CN) return `cert:${subject.CN}`;
    }
    const header = request.headers.authorization ?? '';
    const token = /^Bearer\s+(.+)$/i.exec(header)?.[1]?.trim();
    if (token !== undefined && this.tokens.has(token)) return `token:${token.slice(0, 6)}…`;
    if (this.tokens.size === 0 && !this.options.tls?.clientCa) return 'anonymous';
    return '';
  }

  private async route(method: string, url: URL, body: string, request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const query = url.searchParams;
    const parts = path.split('/').filter((part) => part !== '').map(decodeURIComponent);
    const store = this.store;
    if (method === 'GET') {
      if (path === '/healthz' || path === '/livez' || path === '/readyz') return sendText(response, 200, 'ok');
      if (path === '/version') return send(response, 200, VERSION_INFO);
      if (path === '/api') return send(response, 200, API_VERSIONS);
      if (path === '/apis') return send(response, 200, API_GROUP_LIST);
      if (path === '/api/v1') return send(response, 200, API_V1_RESOURCES);
    }
    if (parts[0] === 'api' && parts[1] === 'v1' && parts[2] === 'nodes') {
      const name = parts[3];
      if (name === undefined) {
        if (method === 'GET') return isWatch(query) ? this.watches.open(query, fieldSelector(query), request, response) : this.list(query, response);
        if (method === 'POST') {
          const node = store.createNode(parseBody(body), { assignPodCidr: (this.options.podCidrDelayMs ?? 0) === 0 });
          this.scheduleCidr(node);
          return send(response, 201, node);
        }
      } else if (parts.length === 4 || (parts.length === 5 && parts[4] === 'status')) {
        const subresource = parts[4] === 'status' ? 'status' : undefined;
        if (method === 'GET') return send(response, 200, store.getNode(name));
        if (method === 'PATCH') return send(response, 200, store.patchNode(name, patchType(request), body, subresource));
        if (method === 'DELETE' && !subresource) return send(response, 200, store.deleteNode(name));
      }
    }
    if (parts[0] === 'api' && parts[1] === 'v1' && parts[2] === 'namespaces' && parts[3] !== undefined && parts[4] === 'pods') {
      const namespace = parts[3];
      const name = parts[5];
      if (name === undefined && method === 'POST') return send(response, 201, store.createPod(namespace, parseBody(body)));
      if (name !== undefined && parts.length === 6) {
        if (method === 'GET') return send(response, 200, store.getPod(namespace, name));
        if (method === 'DELETE') return send(response, 200, store.deletePod(namespace, name));
      }
    }
    const known = parts[0] === 'api' && parts[1] === 'v1' && (parts[2] === 'nodes' || parts[2] === 'namespaces');
    if (known) throw new ApiStatusError(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource (${method} ${path})`);
    throw new ApiStatusError(404, 'NotFound', 'the server could not find the requested resource');
  }

  private list(query: URLSearchParams, response: ServerResponse): void {
    const matches = fieldSelector(query);
    const token = query.get('continue') ?? '';
    const limit = Number(query.get('limit') ?? '0');
    let items: JsonObject[];
    let resourceVersion: string;
    if (token !== '') {
      const saved = this.continuations.get(token);
      if (!saved) throw new ApiStatusError(410, 'Expired', 'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.');
      this.continuations.delete(token);
      ({ items, resourceVersion } = saved);
    } else {
      ({ items, resourceVersion } = this.store.listNodes());
      items = items.filter(matches);
    }
    const metadata: JsonObject = { resourceVersion };
    // resourceVersion=0 may be served from the cache, which ignores limit (as the API server's watch cache).
    if (Number.isInteger(limit) && limit > 0 && items.length > limit && query.get('resourceVersion') !== '0') {
      const next = randomBytes(9).toString('base64url');
      this.continuations.set(next, { items: items.slice(limit), resourceVersion });
      if (this.continuations.size > 100) this.continuations.delete(this.continuations.keys().next().value as string);
      metadata.continue = next;
      metadata.remainingItemCount = items.length - limit;
      items = items.slice(0, limit);
    }
    send(response, 200, { kind: 'NodeList', apiVersion: 'v1', metadata, items: items.map(withoutKind) });
  }

  private scheduleCidr(node: JsonObject): void {
    const delay = this.options.podCidrDelayMs ?? 0;
    if (delay <= 0 || !this.store.allocateNodeCidrs) return;
    const name = (node.metadata as JsonObject).name as string;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      try {
        this.store.assignPodCidrs(name);
      } catch {
        // The node was deleted meanwhile.
      }
    }, delay);
    this.timers.add(timer);
  }
}

function isWatch(query: URLSearchParams): boolean {
  const value = query.get('watch');
  return value === 'true' || value === '1';
}

/** `metadata.name=X` (also `==`) is the one field selector flannel's and kubectl's requests use. */
function fieldSelector(query: URLSearchParams): (object: JsonObject) => boolean {
  const selector = query.get('fieldSelector') ?? '';
  if (query.get('labelSelector')) throw badRequest('the fake API server does not support labelSelector');
  if (selector === '') return () => true;
  const match = /^metadata\.name==?(.*)$/.exec(selector);
  if (!match) throw badRequest(`field label not supported: ${selector}`);
  const name = match[1];
  return (object) => (object.metadata as JsonObject | undefined)?.name === name;
}

function patchType(request: IncomingMessage): PatchType {
  const type = (request.headers['content-type'] ?? '').split(';')[0]?.trim() ?? '';
  if ((PATCH_TYPES as readonly string[]).includes(type)) return type as PatchType;
  throw new ApiStatusError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: ${PATCH_TYPES.join(', ')}, application/apply-patch+yaml`);
}

function withoutKind(object: JsonObject): JsonObject {
  const { kind: _kind, apiVersion: _apiVersion, ...rest } = object;
  return rest;
}

function parseBody(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch (error) {
    throw badRequest(`the body of the request is not JSON: ${(error as Error).message}`);
  }
}

function send(response: ServerResponse, status: number, document: JsonObject): void {
  const text = JSON.stringify(document);
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  response.end(text);
}

function sendText(response: ServerResponse, status: number, text: string): void {
  response.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
  response.end(text);
}

function readRequest(request: IncomingMessage): Promise<string> {
  return readLimited(request, MAX_REQUEST_BYTES, {
    tooLarge: () => new ApiStatusError(413, 'RequestEntityTooLarge', 'request entity too large'),
    broken: (reason) => badRequest(`reading the request failed: ${reason}`),
  });
}

