/**
 * The health endpoints (reference §8): GET /healthz → 200 "flanneld is running"; /readyz → 200 "flanneld is
 * ready" once the subnet file is written, 503 "flanneld is not ready yet" before; anything else → Go's 404.
 */
import { createServer, type Server } from 'node:http';

export interface HealthServer {
  readonly port: number;
  close(): Promise<void>;
}

export async function startHealthServer(host: string, port: number, isReady: () => boolean): Promise<HealthServer> {
  const server: Server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    response.setHeader('Content-Type', 'text/plain; charset=utf-8');
    if (path === '/healthz') {
      response.writeHead(200).end('flanneld is running');
    } else if (path === '/readyz') {
      if (isReady()) response.writeHead(200).end('flanneld is ready');
      else response.writeHead(503).end('flanneld is not ready yet');
    } else {
      response.writeHead(404).end('404 page not found\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : port,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
