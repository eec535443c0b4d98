/**
 * An HTTP server no client can hold, for flanneld's health endpoints and its local status socket: headers must
 * arrive within 5 s and a whole request within 10 s (slowloris), idle keep-alive connections close after 5 s,
 * headers are limited to 8 KiB (431 above), and at most 128 connections are open at once, 16 per client address
 * (more are closed at once, so a flood from one host does not starve kubelet's probes from another; on a unix
 * socket every client shares one address). Malformed requests get Node's 400/408/431 and a closed connection.
 * A handler that throws or rejects answers 500 and is reported through `report`; nothing ends the process.
 */
import { type IncomingMessage, STATUS_CODES, type Server, type ServerResponse, createServer } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { errorMessage } from '../../support/errors.js';

/** One answer: status, headers and the whole body (sent with an explicit Content-Length, as Go does). */
export interface HttpAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

export type HardenedLimits = { -readonly [K in keyof typeof HARDENED_LIMITS]: number };

/** Limits against slow or abusive clients; kubelet's probes and `flannelctl` need a fraction of each. */
export const HARDENED_LIMITS = {
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

/** A server (not yet listening) answering every request through `handle`. */
export function createHardenedServer(
  handle: (request: IncomingMessage) => HttpAnswer | Promise<HttpAnswer>,
  limits: HardenedLimits,
  report: (message: string) => void,
): Server {
  const server: Server = createServer({
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    maxHeaderSize: limits.maxHeaderBytes,
    // Node checks the two timeouts above on this interval (default 30 s, which would let slowloris linger).
    connectionsCheckingInterval: Math.min(1_000, limits.headersTimeoutMs),
  }, (request, response) => void answer(request, response, handle, report));
  server.maxConnections = limits.maxConnections;
  server.maxRequestsPerSocket = limits.maxRequestsPerSocket;
  server.setTimeout(limits.idleSocketTimeoutMs, (socket) => socket.destroy());
  server.on('clientError', refuse);
  server.on('connection', limitPerClient(limits.maxConnectionsPerClient));
  return server;
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

async function answer(
  request: IncomingMessage,
  response: ServerResponse,
  handle: (request: IncomingMessage) => HttpAnswer | Promise<HttpAnswer>,
  report: (message: string) => void,
): Promise<void> {
  try {
    const { status, headers, body } = await handle(request);
    // An explicit length (as Go sends), not chunked encoding.
    response.writeHead(status, { ...headers, 'Content-Length': Buffer.byteLength(body) }).end(body);
  } catch (error) {
    report(`request ${JSON.stringify(request.url)}: ${errorMessage(error)}`);
    if (!response.headersSent) response.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8', Connection: 'close' });
    response.end();
  }
}
