/**
 * WireguardControl over wireguard-go's UAPI socket, `<runDirectory>/<device>.sock` (wireguard-go fixes
 * /var/run/wireguard). One connection per request, as `wg` does; every request has a deadline and a bounded
 * reply, so a hung or chatty daemon cannot hang or bloat flanneld. A missing socket (no such device, or the
 * daemon is restarting) is `undefined` for getDevice and ENODEV for configureDevice; the supervisor restarts
 * the daemon and the reconciler's next pass configures it again.
 */
import { type Socket, createConnection } from 'node:net';
import { join } from 'node:path';
import type { WireguardControl, WireguardDeviceChange, WireguardDeviceState } from '../../backend/wireguard/wireguard-control.js';
import { FlannelError } from '../../support/errors.js';
import { UAPI_GET, checkUapiErrno, encodeUapiSet, parseUapiGet, uapiReplyComplete } from './uapi-codec.js';

export const WIREGUARD_RUN_DIRECTORY = '/var/run/wireguard';
const MAX_REPLY_BYTES = 8 << 20;

export interface UapiWireguardControlOptions {
  /** Where the sockets are (default /var/run/wireguard). */
  readonly runDirectory?: string;
  readonly timeoutMs?: number;
}

export class UapiWireguardControl implements WireguardControl {
  private readonly runDirectory: string;
  private readonly timeoutMs: number;

  constructor(options: UapiWireguardControlOptions = {}) {
    this.runDirectory = options.runDirectory ?? WIREGUARD_RUN_DIRECTORY;
    this.timeoutMs = options.timeoutMs ?? 5000;
  }

  socketPath(name: string): string {
    return join(this.runDirectory, `${name}.sock`);
  }

  async getDevice(name: string): Promise<WireguardDeviceState | undefined> {
    const reply = await this.request(name, UAPI_GET, 'get');
    return reply === undefined ? undefined : parseUapiGet(reply, name);
  }

  async configureDevice(name: string, change: WireguardDeviceChange): Promise<void> {
    const reply = await this.request(name, encodeUapiSet(change), 'set');
    if (reply === undefined) throw new FlannelError('ENODEV', `wireguard device ${name}: no UAPI socket at ${this.socketPath(name)} (wireguard-go not running)`, { retryable: true });
    checkUapiErrno(reply, `wireguard device ${name}: set`);
  }

  /** The complete reply, or undefined when nothing listens on the device's socket. */
  private request(name: string, text: string, what: string): Promise<string | undefined> {
    if (name.includes('/') || name === '' || name.length > 15) {
      return Promise.reject(new FlannelError('EINVAL', `wireguard device name ${JSON.stringify(name)} is not an interface name`));
    }
    const path = this.socketPath(name);
    return new Promise((resolve, reject) => {
      const socket: Socket = createConnection(path);
      const chunks: Buffer[] = [];
      let length = 0;
      let settled = false;
      const finish = (error: FlannelError | undefined, value?: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.destroy();
        if (error) reject(error);
        else resolve(value);
      };
      const timer = setTimeout(() => finish(new FlannelError('ETIMEDOUT', `wireguard device ${name}: no UAPI reply to ${what} within ${this.timeoutMs} ms`, { retryable: true })), this.timeoutMs);
      socket.on('connect', () => socket.write(text));
      socket.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        length += chunk.length;
        if (length > MAX_REPLY_BYTES) return finish(new FlannelError('EPROTO', `wireguard device ${name}: UAPI reply to ${what} exceeds ${MAX_REPLY_BYTES} bytes`));
        const reply = Buffer.concat(chunks).toString('utf8');
        if (uapiReplyComplete(reply)) finish(undefined, reply);
      });
      socket.on('end', () => finish(new FlannelError('EPROTO', `wireguard device ${name}: wireguard-go closed the UAPI connection without a reply to ${what}`, { retryable: true })));
      socket.on('error', (error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT' || error.code === 'ECONNREFUSED') return finish(undefined, undefined);
        finish(new FlannelError(error.code ?? 'EIO', `wireguard device ${name}: UAPI ${what} on ${path}: ${error.message}`, { cause: error, retryable: true }));
      });
    });
  }
}
