/**
 * The HTTP/2 connections of one etcd client: one per endpoint, made on first use, and the choice of endpoint.
 *
 * A member can be dead (connection refused or reset: noticed at once) or hung (SIGSTOPped, overloaded, cut off
 * by a firewall that drops packets: the kernel still accepts TCP, nothing answers). A hung member is noticed
 *  - when connecting: a connection counts as made only when etcd's HTTP/2 SETTINGS arrive, within
 *    `connectTimeoutMs`;
 *  - on a connection with open streams (a watch): a PING every `keepaliveMs` must be answered within
 *    `keepaliveTimeoutMs`;
 *  - after a request timed out: the connection is PINGed at once (`probe`).
 * A member that failed is dropped (its streams fail, so a watch on it is resumed elsewhere) and put last in the
 * order of endpoints for `suspectMs`; the next endpoint becomes the preferred one.
 *
 * PINGs are sent only while streams are open, and no more often than etcd's default
 * `--grpc-keepalive-min-time` (5 s) allows: gRPC servers answer pings outside that policy with a GOAWAY
 * (ENHANCE_YOUR_CALM, "too_many_pings"); if one comes anyway, the interval is doubled, as gRPC clients do.
 */
import { type ClientHttp2Session, type ClientHttp2Stream, connect, constants } from 'node:http2';
import { type Socket, connect as netConnect, isIP } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { EndpointFailure, describeConnectionFailure } from './etcd-connection-errors.js';

export { EndpointFailure } from './etcd-connection-errors.js';

export interface EtcdTlsOptions {
  /** Trusted CAs for etcd's server certificate (default: the system's). */
  readonly ca?: Buffer;
  /** Our client certificate and its key, both or neither. */
  readonly cert?: Buffer;
  readonly key?: Buffer;
}

export interface EtcdConnectionOptions {
  readonly endpoints: readonly string[];
  /** Used for https:// endpoints (an http:// endpoint is plain, as etcd's own client does). */
  readonly tls?: EtcdTlsOptions;
  /** How long a new connection may take to bring etcd's HTTP/2 SETTINGS (default 3 s). */
  readonly connectTimeoutMs?: number;
  /** PING interval while streams are open (default 5.5 s; etcd refuses pings more often than every 5 s). */
  readonly keepaliveMs?: number;
  /** How long a PING may go unanswered before the connection is dropped (default 2 s). */
  readonly keepaliveTimeoutMs?: number;
  /** How long a failed endpoint is tried only after the others. */
  readonly suspectMs?: number;
}

export const DEFAULT_CONNECT_TIMEOUT_MS = 3000;
/** Above etcd's default --grpc-keepalive-min-time (5 s), with a margin for timer and network jitter. */
export const DEFAULT_KEEPALIVE_MS = 5500;
export const DEFAULT_KEEPALIVE_TIMEOUT_MS = 2000;
const DEFAULT_SUSPECT_MS = 30_000;

interface Connection {
  readonly session: ClientHttp2Session;
  openStreams: number;
  /** Why the session ended (kept so that its streams can say what happened). */
  failure?: EndpointFailure;
}

export class EtcdConnections {
  readonly endpoints: readonly string[];
  private readonly connections = new Map<string, Connection>();
  private readonly pending = new Map<string, Promise<Connection>>();
  private readonly suspectUntil = new Map<string, number>();
  private readonly lastFailure = new Map<string, EndpointFailure>();
  private preferred = 0;
  private keepaliveMs: number;
  private closed = false;

  constructor(private readonly options: EtcdConnectionOptions) {
    this.endpoints = options.endpoints.map((endpoint) => endpoint.trim()).filter((endpoint) => endpoint !== '');
    this.keepaliveMs = options.keepaliveMs ?? DEFAULT_KEEPALIVE_MS;
  }

  /** The endpoints in the order to try them: the preferred one, then the others in turn; suspects last. */
  candidates(): string[] {
    const now = Date.now();
    const ordered = this.endpoints.map((_, offset) => this.endpoints[(this.preferred + offset) % this.endpoints.length] as string);
    const suspect = (endpoint: string) => (this.suspectUntil.get(endpoint) ?? 0) > now;
    return [...ordered.filter((endpoint) => !suspect(endpoint)), ...ordered.filter(suspect)];
  }

  /** Opens a stream on `endpoint` (connecting first when needed); throws EndpointFailure. */
  async stream(endpoint: string, headers: Record<string, string>): Promise<ClientHttp2Stream> {
    if (this.closed) throw new EndpointFailure('client closed', false);
    const connection = await this.connection(endpoint);
    let stream: ClientHttp2Stream;
    try {
      stream = connection.session.request({ ':method': 'POST', 'content-type': 'application/grpc', te: 'trailers', ...headers });
    } catch (error) {
      throw this.fail(endpoint, describeConnectionFailure(endpoint, error, true));
    }
    connection.openStreams++;
    stream.once('close', () => connection.openStreams--);
    return stream;
  }

  /** Whether a connection to `endpoint` is open now (a request on it may find it stale). */
  connected(endpoint: string): boolean {
    const existing = this.connections.get(endpoint);
    return existing !== undefined && !existing.session.closed && !existing.session.destroyed;
  }

  /** Drops the connection to `endpoint` without blaming the endpoint (the next request connects afresh). */
  drop(endpoint: string): void {
    const connection = this.connections.get(endpoint);
    this.connections.delete(endpoint);
    connection?.session.destroy();
  }

  /** Why `endpoint`'s connection failed, if it did: streams closed by that failure report it. */
  failureOf(endpoint: string): EndpointFailure | undefined {
    return this.lastFailure.get(endpoint);
  }

  /** `endpoint` answered: it is preferred from now on and no longer suspect. */
  succeeded(endpoint: string): void {
    this.preferred = Math.max(0, this.endpoints.indexOf(endpoint));
    this.suspectUntil.delete(endpoint);
    this.lastFailure.delete(endpoint);
  }

  /**
   * `endpoint` failed: its connection is dropped (open streams fail and are resumed elsewhere by their
   * callers), it goes last in the order for a while, and the next endpoint becomes the preferred one.
   */
  fail(endpoint: string, failure: EndpointFailure): EndpointFailure {
    this.lastFailure.set(endpoint, failure);
    this.suspectUntil.set(endpoint, Date.now() + (this.options.suspectMs ?? DEFAULT_SUSPECT_MS));
    if (this.endpoints[this.preferred] === endpoint) this.preferred = (this.preferred + 1) % this.endpoints.length;
    const connection = this.connections.get(endpoint);
    if (connection) {
      connection.failure = failure;
      this.connections.delete(endpoint);
      connection.session.destroy();
    }
    return failure;
  }

  /** A request on `endpoint` went unanswered: PING the connection now and drop it unless etcd answers. */
  probe(endpoint: string): void {
    const connection = this.connections.get(endpoint);
    if (connection) this.ping(endpoint, connection);
  }

  close(): void {
    this.closed = true;
    for (const connection of this.connections.values()) connection.session.close();
    this.connections.clear();
  }

  private connection(endpoint: string): Promise<Connection> {
    const existing = this.connections.get(endpoint);
    if (existing && !existing.session.closed && !existing.session.destroyed) return Promise.resolve(existing);
    let pending = this.pending.get(endpoint);
    if (!pending) {
      pending = this.connect(endpoint).finally(() => this.pending.delete(endpoint));
      this.pending.set(endpoint, pending);
    }
    return pending;
  }

  /** Connects and waits for etcd's HTTP/2 SETTINGS: a hung member accepts TCP but never sends them. */
  private connect(endpoint: string): Promise<Connection> {
    const timeoutMs = this.options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    return new Promise((resolve, reject) => {
      let session: ClientHttp2Session;
      // Our own socket, to hear its errors: a TLS 1.3 server rejects our client certificate after the handshake
      // completed on our side, and that alert reaches the socket but not the HTTP/2 session (Node 20).
      let socketError: ((error: Error) => void) | undefined;
      try {
        const socket = this.socket(endpoint);
        socket.on('error', (error) => socketError?.(error));
        session = connect(endpoint, { createConnection: () => socket });
      } catch (error) {
        return reject(this.fail(endpoint, describeConnectionFailure(endpoint, error)));
      }
      const connection: Connection = { session, openStreams: 0 };
      let settled = false;
      const failed = (failure: EndpointFailure) => {
        connection.failure ??= failure;
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(this.fail(endpoint, failure));
      };
      const timer = setTimeout(() => {
        failed(new EndpointFailure(`${endpoint}: no HTTP/2 answer within ${timeoutMs} ms (etcd hung or unreachable)`, false));
        session.destroy();
      }, timeoutMs);
      session.once('remoteSettings', () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.connections.set(endpoint, connection);
        this.keepAlive(endpoint, connection);
        resolve(connection);
      });
      // Also after connecting: a connection that fails later is dropped (its streams see the error) instead of
      // an unhandled 'error' event taking the process down.
      const onError = (error: Error) => {
        const failure = describeConnectionFailure(endpoint, error, settled);
        if (!settled) return failed(failure);
        if (this.connections.get(endpoint) === connection) this.fail(endpoint, failure);
        else connection.failure ??= failure;
      };
      session.on('error', onError);
      socketError = (error) => {
        onError(error);
        session.destroy();
      };
      session.once('close', () => {
        if (this.connections.get(endpoint) === connection) this.connections.delete(endpoint);
        failed(describeConnectionFailure(endpoint, undefined, settled));
      });
      session.on('goaway', (code: number) => {
        if (this.connections.get(endpoint) === connection) this.connections.delete(endpoint);
        if (code === constants.NGHTTP2_ENHANCE_YOUR_CALM) this.keepaliveMs *= 2;
      });
    });
  }

  /** A TCP socket, or TLS (ALPN h2) for https:// with our CA and client certificate when given. */
  private socket(endpoint: string): Socket {
    const url = new URL(endpoint);
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    if (url.protocol !== 'https:') return netConnect({ host, port: Number(url.port || 80) });
    const tls = this.options.tls ?? {};
    return tlsConnect({
      host, port: Number(url.port || 443), ALPNProtocols: ['h2'], minVersion: 'TLSv1.2',
      ...(isIP(host) ? {} : { servername: host }),
      ...(tls.ca ? { ca: tls.ca } : {}),
      ...(tls.cert && tls.key ? { cert: tls.cert, key: tls.key } : {}),
    });
  }

  private keepAlive(endpoint: string, connection: Connection): void {
    const { session } = connection;
    let timer: NodeJS.Timeout | undefined;
    const schedule = () => {
      timer = setTimeout(() => {
        if (session.destroyed || session.closed) return;
        if (connection.openStreams > 0) this.ping(endpoint, connection);
        schedule();
      }, this.keepaliveMs);
      timer.unref();
    };
    schedule();
    session.once('close', () => clearTimeout(timer));
  }

  private ping(endpoint: string, connection: Connection): void {
    const { session } = connection;
    if (session.destroyed || session.closed) return;
    const timeoutMs = this.options.keepaliveTimeoutMs ?? DEFAULT_KEEPALIVE_TIMEOUT_MS;
    const timer = setTimeout(() => {
      if (this.connections.get(endpoint) === connection) {
        this.fail(endpoint, new EndpointFailure(`${endpoint}: etcd did not answer an HTTP/2 PING within ${timeoutMs} ms (hung?)`, false));
      }
    }, timeoutMs);
    timer.unref();
    try {
      // 'close' comes a tick after destroy(): pinging a dead session throws, hence the try.
      session.ping((error) => {
        clearTimeout(timer);
        if (error && this.connections.get(endpoint) === connection) this.fail(endpoint, describeConnectionFailure(endpoint, error, true));
      });
    } catch (error) {
      clearTimeout(timer);
      this.fail(endpoint, describeConnectionFailure(endpoint, error, true));
    }
  }
}
