/**
 * Reads an HTTP message body (request or response) as UTF-8 text, refusing more than `limit` bytes: the stream is
 * destroyed and the promise rejects with `tooLarge()`. Stream errors and a connection closed mid-body reject
 * with `broken(reason)`. Both the client and the fake server read bodies this way, so neither can be made to
 * buffer without bound.
 */
import type { IncomingMessage } from 'node:http';
import { errorMessage } from '../../support/errors.js';

export function readLimited(stream: IncomingMessage, limit: number, errors: { tooLarge: () => Error; broken: (reason: string, cause?: unknown) => Error }): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    stream.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        stream.destroy();
        reject(errors.tooLarge());
        return;
      }
      chunks.push(chunk);
    });
    stream.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    stream.on('error', (error) => reject(errors.broken(errorMessage(error), error)));
    stream.on('aborted', () => reject(errors.broken('connection closed mid-body')));
  });
}
