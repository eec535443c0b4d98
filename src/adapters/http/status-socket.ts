/**
 * flanneld's local status endpoint: HTTP on a unix socket, root only (mode 0600 in /run/flannel), serving
 *   GET /status   the status document (status-document.ts) as JSON, for `flannelctl status`
 *   GET /leases   the lease table flanneld knows (lease-records.ts), for `flannelctl trace` and `doctor`
 *   GET /metrics  the Prometheus page (also when --healthz-port is 0, its default)
 *
 * Why a unix socket and not a route on the health server: the health server exists only with --healthz-port > 0
 * (off by default, as upstream) and listens on 0.0.0.0 by default, where a peer list, public IPs and firewall
 * state have no business; a socket is always there, reachable only from this host, and its file mode is the
 * access control (`curl --unix-socket /run/flannel/flanneld.sock http://flanneld/status` works too).
 *
 * The server is the hardened one (hardened-server.ts). At start, a socket file left by a dead flanneld is
 * removed; a socket another live process answers on, or a path that is not a socket, is refused with
 * FlannelError('STATUS_SOCKET') (the daemon logs it and runs without the endpoint). `close()` removes the file.
 */
import { lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import type { IncomingMessage, Server } from 'node:http';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import { PROMETHEUS_CONTENT_TYPE } from '../../metrics/prometheus-text.js';
import { encodeLeaseTable } from '../../ops/lease-records.js';
import { type StatusProvider, buildStatusDocument } from '../../ops/status-document.js';
import type { Clock } from '../../support/clock.js';
import { FlannelError, errorMessage } from '../../support/errors.js';
import { HARDENED_LIMITS, type HttpAnswer, createHardenedServer } from './hardened-server.js';

export { DEFAULT_STATUS_SOCKET } from '../../config/daemon-options.js';

export interface StatusSocket {
  readonly path: string;
  close(): Promise<void>;
}

export interface StatusSocketOptions {
  readonly provider: StatusProvider;
  readonly metrics?: () => string;
  readonly clock: Pick<Clock, 'now'>;
  readonly onError?: (message: string) => void;
}

export async function startStatusSocket(path: string, options: StatusSocketOptions): Promise<StatusSocket> {
  const report = options.onError ?? (() => undefined);
  await removeStale(path);
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  const server: Server = createHardenedServer((request) => statusAnswer(request, options), HARDENED_LIMITS, (message) => report(`status socket ${message}`));
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) => reject(new FlannelError('STATUS_SOCKET', `cannot listen on ${path}: ${errorMessage(error)}`, { cause: error })));
    // The socket is created by bind() inside listen(), synchronously: with this umask it is born 0600, so no
    // other user can connect in the moment before a chmod would run.
    const previous = process.umask(0o177);
    try {
      server.listen(path, () => resolve());
    } finally {
      process.umask(previous);
    }
  });
  server.on('error', (error) => report(`status socket: ${errorMessage(error)}`));
  return {
    path,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      // Node removes the socket file when a listening unix server closes.
      server.close(() => resolve());
    }),
  };
}

async function statusAnswer(request: IncomingMessage, options: StatusSocketOptions): Promise<HttpAnswer> {
  const path = (request.url ?? '/').split('?')[0];
  if (request.method !== 'GET' && request.method !== 'HEAD') return json(405, { error: 'only GET' });
  if (path === '/status') return json(200, buildStatusDocument(await options.provider.statusFacts(), options.clock.now()));
  if (path === '/leases') return json(200, encodeLeaseTable(options.provider.leases()));
  if (path === '/metrics' && options.metrics) return { status: 200, headers: { 'Content-Type': PROMETHEUS_CONTENT_TYPE }, body: options.metrics() };
  return json(404, { error: 'not found', paths: ['/status', '/leases', ...(options.metrics ? ['/metrics'] : [])] });
}

function json(status: number, body: unknown): HttpAnswer {
  return { status, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) + '\n' };
}

/** Removes a socket file nobody answers on; refuses a live socket or anything that is not a socket. */
async function removeStale(path: string): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch {
    return;
  }
  if (!isSocket) throw new FlannelError('STATUS_SOCKET', `${path} exists and is not a socket; not replacing it`);
  const live = await new Promise<boolean>((resolve) => {
    const probe = connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (live) throw new FlannelError('STATUS_SOCKET', `${path} is in use by another process (another flanneld?)`);
  unlinkSync(path);
}
