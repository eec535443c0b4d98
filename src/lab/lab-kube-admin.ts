/**
 * The lab's own client of its fake API server, over the server's Unix socket (plain HTTP, admin token), so the
 * lab reaches a server that listens inside a network namespace without running anything in the root
 * namespace's network. JSON in, JSON out; a failure names the request and the server's message.
 */
import http from 'node:http';
import { FlannelError } from '../support/errors.js';

export type JsonObject = Record<string, unknown>;

export class LabKubeAdmin {
  constructor(
    private readonly socketPath: string,
    /** The admin's bearer token, read when needed (the lab writes it when it starts the server). */
    private readonly token: () => string,
  ) {}

  /** Answers with the parsed body; `contentType` defaults to JSON (a merge patch for PATCH). */
  request(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, body?: unknown, contentType?: string): Promise<JsonObject> {
    const text = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const headers: Record<string, string> = { authorization: `Bearer ${this.token()}`, accept: 'application/json' };
    if (text !== undefined) {
      headers['content-type'] = contentType ?? (method === 'PATCH' ? 'application/merge-patch+json' : 'application/json');
      headers['content-length'] = String(Buffer.byteLength(text));
    }
    return new Promise((resolve, reject) => {
      const request = http.request({ socketPath: this.socketPath, path, method, headers, timeout: 10_000 }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', reject);
        response.on('end', () => {
          const answer = Buffer.concat(chunks).toString('utf8');
          let document: JsonObject = {};
          try {
            document = answer === '' ? {} : (JSON.parse(answer) as JsonObject);
          } catch {
            document = { message: answer.slice(0, 200) };
          }
          const status = response.statusCode ?? 0;
          if (status >= 200 && status < 300) return resolve(document);
          reject(new FlannelError('LAB_KUBE', `${method} ${path}: ${status} ${String(document.message ?? '')}`));
        });
      });
      request.on('timeout', () => request.destroy(new Error('no answer in 10 s')));
      request.on('error', (error) => reject(new FlannelError('LAB_KUBE', `${method} ${path}: ${error.message}`, { cause: error })));
      request.end(text);
    });
  }

  /** Whether the server answers /readyz. */
  async ready(): Promise<boolean> {
    return this.request('GET', '/readyz').then(() => true, () => false);
  }
}
