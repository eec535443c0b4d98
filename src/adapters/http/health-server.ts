/**
 * The health endpoints (reference §8) on a hardened HTTP server (hardened-server.ts): the answers come from
 * `healthAnswer` (Go's mux behaviour, never a throw), and no client can hold the server (slowloris, floods from
 * one address, oversized headers). With `metrics`, `/metrics` serves the Prometheus text page (an addition of
 * ours: upstream has no metrics). Nothing a client sends ends the process: an unexpected failure inside a
 * handler answers 500 and is reported through `onError`.
 */
import type { IncomingMessage, Server } from 'node:http';
import { FlannelError, errorMessage } from '../../support/errors.js';
import { type HardenedLimits, HARDENED_LIMITS, createHardenedServer } from './hardened-server.js';
import { type HealthAnswer, healthAnswer } from './health-routes.js';

export interface HealthServer {
  readonly port: number;
  close(): Promise<void>;
}

export interface HealthServerOptions {
  /** Failures that are not the client's fault (a bug, a socket error on the listener). */
  readonly onError?: (message: string) => void;
  /** Overrides of HEALTH_LIMITS (tests use short timeouts). */
  readonly limits?: Partial<HealthLimits>;
  /** Renders the Prometheus text page served at `/metrics` (absent: 404 there, as upstream). */
  readonly metrics?: () => string;
}

/** Limits against slow or abusive clients (shared with the status socket). */
export type HealthLimits = HardenedLimits;
export const HEALTH_LIMITS = HARDENED_LIMITS;

/**
 * Listens on host:port (port 0 picks a free one). Rejects with FlannelError('BAD_FLAG') naming
 * `--healthz-ip`/`--healthz-port` when the address cannot be listened on.
 */
export async function startHealthServer(host: string, port: number, isReady: () => boolean, options: HealthServerOptions = {}): Promise<HealthServer> {
  const report = options.onError ?? (() => undefined);
  const routes = options.metrics ? { '/metrics': options.metrics } : undefined;
  const server: Server = createHardenedServer(
    (request: IncomingMessage): HealthAnswer => healthAnswer(request.method ?? 'GET', request.url ?? '/', isReady(), routes),
    { ...HEALTH_LIMITS, ...options.limits },
    (message) => report(`health ${message}`),
  );
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
