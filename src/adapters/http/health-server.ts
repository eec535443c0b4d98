/**
 * The health endpoints (reference §8) on a hardened HTTP server: the answers come from `healthAnswer` (Go's
 * mux behaviour, never a throw), and no client can hold the server: headers must arrive within 5 s and a
 * whole request within 10 s (slowloris), idle keep-alive connections close after 5 s, headers are limited to
 * 8 KiB (431 above), and at most 128 connections are open at once, 16 per client address (more are closed at
 * once, so a flood from one host does not starve kubelet's probes from another).
 * Malformed requests get Node's 400/408/431 and a closed connection. Nothing a client sends ends the process:
 * an unexpected failure inside a handler answers 500 and is reported through `onError`.
 */
import { type IncomingMessage, STATUS_CODES, type Server, type ServerResponse, createServer } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { FlannelError, errorMessage } from '../../support/errors.js';
import { healthAnswer } from './health-routes.js';

export interface HealthServer {
  readonly port: number;
  close(): Promise<void>;
}

export interface HealthServerOptions {
  /** Failures that are not the client's fault (a bug, a socket error on the listener). */
  readonly onError?: (message: string) => void;
  /** Overrides of HEALTH_LIMITS (tests use short timeouts). */
  readonly limits?: Partial<HealthLimits>;
}

export type HealthLimits = { -readonly [K in keyof typeof HEALTH_LIMITS]: number };

/** Limits against slow or abusive clients; kubelet's probes need a fraction of each. */
export const HEALTH_LIMITS = {
  headersTimeoutMs: 5_000,
  requestTimeoutMs: 10_000,
  keepAliveTimeoutMs: 5_000,
  idleSocketTimeoutMs: 10_000,
  maxHeaderBytes: 8 * 1024,
  maxConnections: 128,
  /** Per client address, so that one host flooding the port cannot starve kubelet's probes from another. */
  maxConnectionsPerClient: 16,
  maxRequestsPerSocket: 100,
} as const;

/**
 * Listens on host:port (port 0 picks a free one). Rejects with FlannelError('BAD_FLAG') naming
 * `--healthz-ip`/`--healthz-port` when the address cannot be listened on.
 */
export async function startHealthServer(host: string, port: number, isReady: () => boolean, options: HealthServerOptions = {}): Promise<HealthServer> {
  const report = options.onError ?? (() => undefined);
  const limits: HealthLimits = { ...HEALTH_LIMITS, ...options.limits };
  const server: Server = createServer({
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    maxHeaderSize: limits.maxHeaderBytes,
    // Node checks the two timeouts above on this interval (default 30 s, which would let slowloris linger).
    connectionsCheckingInterval: Math.min(1_000, limits.headersTimeoutMs),
  }, (request, response) => answer(request, response, isReady, report));
  server.maxConnections = limits.maxConnections;
  server.maxRequestsPerSocket = limits.maxRequestsPerSocket;
  server.setTimeout(limits.idleSocketTimeoutMs, (socket) => socket.destroy());
  server.on('clientError', refuse);
  server.on('connection', limitPerClient(limits.maxConnectionsPerClient));
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) => reject(new FlannelError('BAD_FLAG', `cannot serve health checks on --healthz-ip=${host} --healthz-port=${port}: ${errorMessage(error)}`, { cause: error })));
    // '' means every interface, as Go's ":port".
    if (host === '') server.listen(port, () => resolve());
    else server.listen(port, host, () => resolve());
  });
  // After listening, an 'error' without a listener would throw; there is nothing a client can do to cause one.
  server.on('error', (error) => report(`health server: ${errorMessage(error)}`));
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : port,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/** A 'connection' listener closing a client's connections beyond `limit` open at once. */
function limitPerClient(limit: number): (socket: Socket) => void {
  const open = new Map<string, number>();
  return (socket) => {
    const client = socket.remoteAddress ?? '';
    const count = (open.get(client) ?? 0) + 1;
    if (count > limit) {
      socket.destroy();
      return;
    }
    open.set(client, count);
    socket.once('close', () => {
      const left = (open.get(client) ?? 1) - 1;
      if (left > 0) open.set(client, left);
      else open.delete(client);
    });
  };
}

/**
 * A request Node could not parse, too large or too slow: answer as Go does (plain-text status, connection
 * closed), or just close when nothing was sent. Installed explicitly: without a listener, Node 20 leaves a
 * connection that never sent a byte open past its headers timeout.
 */
function refuse(error: Error & { code?: string }, socket: Duplex): void {
  const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
  const silent = error.code === 'ECONNRESET' || !socket.writable || (status === 408 && (socket as Duplex & { bytesRead?: number }).bytesRead === 0);
  if (silent) {
    socket.destroy();
    return;
  }
  const text = `${status} ${STATUS_CODES[status] ?? ''}`;
  socket.end(`HTTP/1.1 ${text}\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n${text}`);
  // A client that does not read cannot keep the socket either.
  setTimeout(() => socket.destroy(), 1_000).unref();
}

function answer(request: IncomingMessage, response: ServerResponse, isReady: () => boolean, report: (message: string) => void): void {
  try {
    const { status, headers, body } = healthAnswer(request.method ?? 'GET', request.url ?? '/', isReady());
    // An explicit length (as Go sends), not chunked encoding.
    response.writeHead(status, { ...headers, 'Content-Length': Buffer.byteLength(body) }).end(body);
  } catch (error) {
    report(`health request ${JSON.stringify(request.url)}: ${errorMessage(error)}`);
    if (!response.headersSent) response.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8', Connection: 'close' });
    response.end();
  }
}
