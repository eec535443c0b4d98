/**
 * The client side of flanneld's status socket: one GET, with a deadline and a body limit, answering the parsed
 * JSON (or text) or a FlannelError that says what to do: no socket (flanneld not running, or another path),
 * permission denied (run as root), a timeout, a body that is not JSON. Never hangs, never throws anything else.
 */
import { request } from 'node:http';
import { FlannelError, errorMessage } from '../../support/errors.js';
import { readLimited } from '../kube/read-limited.js';

export const STATUS_CLIENT_LIMITS = { timeoutMs: 10_000, maxBodyBytes: 64 * 1024 * 1024 } as const;

export async function getFromStatusSocket(socketPath: string, path: string, limits: Partial<Record<keyof typeof STATUS_CLIENT_LIMITS, number>> = {}): Promise<string> {
  const { timeoutMs, maxBodyBytes } = { ...STATUS_CLIENT_LIMITS, ...limits };
  return new Promise((resolve, reject) => {
    // agent: false — a fresh connection per call; a kept-alive one may belong to a flanneld that has since stopped.
    const call = request({ socketPath, path, method: 'GET', agent: false, headers: { Host: 'flanneld' }, timeout: timeoutMs }, (response) => {
      readLimited(response, maxBodyBytes, {
        tooLarge: () => new FlannelError('BAD_STATUS', `${path}: answer larger than ${maxBodyBytes} bytes`),
        broken: (reason, cause) => new FlannelError('STATUS_UNREACHABLE', `${path}: ${reason}`, { cause }),
      }).then((body) => {
        if (response.statusCode !== 200) reject(new FlannelError('BAD_STATUS', `${path}: flanneld answered ${response.statusCode}: ${body.slice(0, 200)}`));
        else resolve(body);
      }, reject);
    });
    call.on('timeout', () => call.destroy(new FlannelError('STATUS_UNREACHABLE', `${socketPath}: no answer within ${timeoutMs} ms`)));
    call.on('error', (error: Error & { code?: string }) => {
      if (error instanceof FlannelError) return reject(error);
      if (error.code === 'ENOENT' || error.code === 'ECONNREFUSED') {
        return reject(new FlannelError('STATUS_UNREACHABLE', `no flanneld answers on ${socketPath} (is flanneld running? --socket names another path)`, { cause: error }));
      }
      if (error.code === 'EACCES') return reject(new FlannelError('STATUS_UNREACHABLE', `permission denied on ${socketPath}: run as root`, { cause: error }));
      reject(new FlannelError('STATUS_UNREACHABLE', `${socketPath}: ${errorMessage(error)}`, { cause: error }));
    });
    call.end();
  });
}

/** GET and parse JSON. */
export async function getJsonFromStatusSocket(socketPath: string, path: string, limits?: Partial<Record<keyof typeof STATUS_CLIENT_LIMITS, number>>): Promise<unknown> {
  const body = await getFromStatusSocket(socketPath, path, limits);
  try {
    return JSON.parse(body) as unknown;
  } catch {
    throw new FlannelError('BAD_STATUS', `${path}: answer is not JSON: ${JSON.stringify(body.slice(0, 80))}`);
  }
}
