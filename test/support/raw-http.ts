/** Raw HTTP over TCP for tests that send what no well-behaved client would (bad targets, huge headers, slow bytes). */
import { connect } from 'node:net';

export interface RawExchange {
  /** Everything the server sent before it closed the connection (or before the timeout). */
  readonly response: string;
  /** Whether the server closed the connection (rather than the timeout ending the wait). */
  readonly closedByServer: boolean;
}

/**
 * Connects to host:port, writes each chunk (pausing `gapMs` between chunks), and collects the reply until
 * the server closes the connection or `timeoutMs` passes. Never throws for a reset connection.
 */
export function rawRequest(host: string, port: number, chunks: readonly (string | Buffer)[], options: { gapMs?: number; timeoutMs?: number; localAddress?: string } = {}): Promise<RawExchange> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, ...(options.localAddress ? { localAddress: options.localAddress } : {}) });
    let response = '';
    let done = false;
    const finish = (closedByServer: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ response, closedByServer });
    };
    const timer = setTimeout(() => finish(false), options.timeoutMs ?? 2000);
    socket.on('data', (data: Buffer) => (response += data.toString('latin1')));
    socket.on('close', () => finish(true));
    socket.on('error', () => finish(true));
    socket.on('connect', async () => {
      for (const [index, chunk] of chunks.entries()) {
        if (done || socket.destroyed) return;
        if (index > 0 && options.gapMs) await new Promise((resume) => setTimeout(resume, options.gapMs));
        if (!socket.destroyed) socket.write(chunk);
      }
    });
  });
}

/** The status code of a raw HTTP response ('' when there was no status line). */
export function statusOf(response: string): string {
  return /^HTTP\/1\.[01] (\d{3})/.exec(response)?.[1] ?? '';
}

/** The body of a raw HTTP response (after the blank line). */
export function bodyOf(response: string): string {
  const split = response.indexOf('\r\n\r\n');
  return split < 0 ? '' : response.slice(split + 4);
}
