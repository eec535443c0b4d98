/**
 * A small etcd v3 client speaking gRPC over Node's own HTTP/2, for exactly what flanneld needs: range, put,
 * delete, the create-if-absent transaction, lease grant/revoke, watch streams, TLS client certificates, user
 * authentication (token, renewed when etcd says it is invalid) and failover across endpoints.
 *
 * Why not npm `etcd3`: it loads grpc-js and parses etcd's .proto files at start-up, ~250 ms and ~25 MB of RSS
 * in every flanneld, for a dozen message types. Why gRPC and not etcd's JSON gateway: the gateway refuses client
 * certificates that carry a CommonName when client-cert auth and RBAC are both on — a common flannel setup.
 *
 * Errors: an endpoint that cannot be reached (or answers UNAVAILABLE) is skipped for the next one
 * (EtcdUnreachable after all of them); any other gRPC status becomes EtcdGrpcError with etcd's code and message.
 */
import { type ClientHttp2Session, type ClientHttp2Stream, connect, constants } from 'node:http2';
import { ProtoMessage, ProtoWriter } from './protobuf.js';

export interface EtcdClientOptions {
  readonly endpoints: readonly string[];
  readonly tls?: { readonly ca?: Buffer; readonly cert: Buffer; readonly key: Buffer };
  readonly username?: string;
  readonly password?: string;
  readonly requestTimeoutMs?: number;
  /** HTTP/2 PING interval (default 15 s); a connection that leaves a PING unanswered for one interval is dropped. */
  readonly keepaliveMs?: number;
}

export class EtcdUnreachable extends Error {}

export class EtcdGrpcError extends Error {
  constructor(
    readonly grpcCode: number,
    message: string,
  ) {
    super(message);
  }
}

const KEEPALIVE_MS = 15_000;

export const GRPC_STATUS = { invalidArgument: 3, permissionDenied: 7, outOfRange: 11, unavailable: 14, unauthenticated: 16 } as const;

export interface KeyValue {
  readonly key: string;
  readonly value: string;
  readonly lease: bigint;
  readonly modRevision: bigint;
}

export interface WatchResult {
  readonly revision: bigint;
  readonly events: ReadonlyArray<{ readonly type: 'PUT' | 'DELETE'; readonly kv: KeyValue }>;
  readonly canceled: boolean;
  readonly compactRevision: bigint;
  readonly cancelReason: string;
}

/** The smallest key greater than every key with this prefix (etcd's range_end for a prefix). */
export function prefixEnd(prefix: string): Buffer {
  const end = Buffer.from(prefix);
  for (let index = end.length - 1; index >= 0; index--) {
    if ((end[index] as number) < 0xff) {
      end[index] = (end[index] as number) + 1;
      return end.subarray(0, index + 1);
    }
  }
  return Buffer.from([0]);
}

/** A gRPC length-prefixed message (uncompressed). */
function frame(message: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.writeUInt32BE(message.length, 1);
  return Buffer.concat([header, message]);
}

/** Splits complete gRPC messages off the front of `buffer`; returns them and the rest. */
function unframe(buffer: Buffer): { messages: Buffer[]; rest: Buffer } {
  const messages: Buffer[] = [];
  let offset = 0;
  while (buffer.length - offset >= 5) {
    const length = buffer.readUInt32BE(offset + 1);
    if (buffer.length - offset - 5 < length) break;
    messages.push(buffer.subarray(offset + 5, offset + 5 + length));
    offset += 5 + length;
  }
  return { messages, rest: buffer.subarray(offset) };
}

function parseKv(message: ProtoMessage): KeyValue {
  return { key: message.string(1), value: message.string(5), lease: message.int(6), modRevision: message.int(3) };
}

export class EtcdClient {
  private readonly endpoints: string[];
  private readonly sessions = new Map<string, ClientHttp2Session>();
  private preferred = 0;
  private token: string | undefined;
  private closed = false;

  constructor(private readonly options: EtcdClientOptions) {
    this.endpoints = options.endpoints.map((endpoint) => endpoint.trim()).filter((endpoint) => endpoint !== '');
    if (this.endpoints.length === 0) throw new EtcdUnreachable('no etcd endpoints given');
  }

  async get(key: string): Promise<KeyValue | undefined> {
    return (await this.range(new ProtoWriter().bytes(1, key))).kvs[0];
  }

  async getPrefix(prefix: string): Promise<{ kvs: KeyValue[]; revision: bigint }> {
    return this.range(new ProtoWriter().bytes(1, prefix).bytes(2, prefixEnd(prefix)));
  }

  async put(key: string, value: string, lease?: bigint): Promise<void> {
    await this.call('/etcdserverpb.KV/Put', new ProtoWriter().bytes(1, key).bytes(2, value).varintIfSet(3, lease));
  }

  /** Several puts in one transaction (tools and benchmarks writing many keys). */
  async putAll(entries: ReadonlyArray<readonly [string, string]>, lease?: bigint): Promise<void> {
    const request = new ProtoWriter();
    for (const [key, value] of entries) request.message(2, (op) => op.message(2, (put) => put.bytes(1, key).bytes(2, value).varintIfSet(3, lease)));
    await this.call('/etcdserverpb.KV/Txn', request);
  }

  async delete(key: string): Promise<void> {
    await this.call('/etcdserverpb.KV/DeleteRange', new ProtoWriter().bytes(1, key));
  }

  /** `put(key, value, lease)` only if the key does not exist (version == 0); returns whether it was created. */
  async createIfAbsent(key: string, value: string, lease: bigint): Promise<boolean> {
    const request = new ProtoWriter()
      // Compare{result: EQUAL (0), target: VERSION (0), key, version: 0} — version is a oneof, so 0 is written.
      .message(1, (compare) => compare.bytes(3, key).varint(4, 0))
      .message(2, (op) => op.message(2, (put) => put.bytes(1, key).bytes(2, value).varint(3, lease)));
    return (await this.call('/etcdserverpb.KV/Txn', request)).bool(2);
  }

  async grantLease(ttlSeconds: number): Promise<{ id: bigint; ttlSeconds: number }> {
    const response = await this.call('/etcdserverpb.Lease/LeaseGrant', new ProtoWriter().varint(1, ttlSeconds));
    const error = response.string(4);
    if (error) throw new EtcdGrpcError(2, `lease grant: ${error}`);
    return { id: response.int(2), ttlSeconds: Number(response.int(3)) };
  }

  async revokeLease(id: bigint): Promise<void> {
    await this.call('/etcdserverpb.Lease/LeaseRevoke', new ProtoWriter().varint(1, id));
  }

  /**
   * Watches keys with `prefix` from `startRevision`; yields every response until `signal` aborts. When the
   * stream breaks it throws EtcdUnreachable, so the caller resumes from the last revision it saw.
   */
  async *watch(prefix: string, startRevision: bigint, signal: AbortSignal): AsyncGenerator<WatchResult> {
    await this.ensureToken();
    const create = new ProtoWriter().message(1, (request) => request.bytes(1, prefix).bytes(2, prefixEnd(prefix)).varintIfSet(3, startRevision));
    const { stream } = await this.open('/etcdserverpb.Watch/Watch', frame(create.toBuffer()), false);
    const queue: Array<WatchResult | Error> = [];
    let wake: (() => void) | undefined;
    const push = (item: WatchResult | Error) => {
      queue.push(item);
      wake?.();
    };
    let pending: Buffer = Buffer.alloc(0);
    stream.on('data', (chunk: Buffer) => {
      const { messages, rest } = unframe(Buffer.concat([pending, chunk]));
      pending = Buffer.from(rest);
      for (const raw of messages) {
        const response = ProtoMessage.decode(raw);
        push({
          revision: response.message(1).int(3),
          events: response.messages(11).map((event) => ({ type: event.int(1) === 1n ? ('DELETE' as const) : ('PUT' as const), kv: parseKv(event.message(2)) })),
          canceled: response.bool(4),
          compactRevision: response.int(5),
          cancelReason: response.string(6),
        });
      }
    });
    stream.on('trailers', (trailers) => {
      const status = Number(trailers['grpc-status'] ?? 0);
      if (status !== 0) push(new EtcdGrpcError(status, decodeURIComponent(String(trailers['grpc-message'] ?? 'watch failed'))));
    });
    stream.on('close', () => push(new EtcdUnreachable('watch stream closed')));
    stream.on('error', (error: Error) => push(new EtcdUnreachable(`watch stream failed: ${error.message}`)));
    const onAbort = () => wake?.();
    signal.addEventListener('abort', onAbort);
    try {
      while (!signal.aborted) {
        const item = queue.shift();
        if (item instanceof Error) throw item;
        if (item) {
          yield item;
          continue;
        }
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
      stream.close(constants.NGHTTP2_CANCEL);
    }
  }

  close(): void {
    this.closed = true;
    for (const session of this.sessions.values()) session.close();
    this.sessions.clear();
  }

  private async range(request: ProtoWriter): Promise<{ kvs: KeyValue[]; revision: bigint }> {
    const response = await this.call('/etcdserverpb.KV/Range', request);
    return { kvs: response.messages(2).map(parseKv), revision: response.message(1).int(3) };
  }

  /** A unary call, authenticated when a user is configured; an expired token is renewed once. */
  private async call(path: string, request: ProtoWriter): Promise<ProtoMessage> {
    await this.ensureToken();
    try {
      return await this.unary(path, request.toBuffer());
    } catch (error) {
      if (error instanceof EtcdGrpcError && this.options.username && /invalid auth token|token is not provided/i.test(error.message)) {
        this.token = undefined;
        await this.ensureToken();
        return this.unary(path, request.toBuffer());
      }
      throw error;
    }
  }

  private async ensureToken(): Promise<void> {
    if (!this.options.username || this.token !== undefined) return;
    const request = new ProtoWriter().bytes(1, this.options.username).bytes(2, this.options.password ?? '');
    this.token = (await this.unary('/etcdserverpb.Auth/Authenticate', request.toBuffer())).string(2);
  }

  private async unary(path: string, message: Buffer): Promise<ProtoMessage> {
    const { stream } = await this.open(path, frame(message), true);
    return new Promise((resolve, reject) => {
      let data = Buffer.alloc(0);
      let status: number | undefined;
      let statusMessage = '';
      const timer = setTimeout(() => stream.close(constants.NGHTTP2_CANCEL), this.options.requestTimeoutMs ?? 5000);
      const takeStatus = (headers: Record<string, unknown>) => {
        if (headers['grpc-status'] !== undefined) {
          status = Number(headers['grpc-status']);
          statusMessage = decodeURIComponent(String(headers['grpc-message'] ?? ''));
        }
      };
      stream.on('response', takeStatus);
      stream.on('trailers', takeStatus);
      stream.on('data', (chunk: Buffer) => (data = Buffer.concat([data, chunk])));
      stream.on('error', (error: Error) => {
        clearTimeout(timer);
        reject(new EtcdUnreachable(error.message));
      });
      stream.on('close', () => {
        clearTimeout(timer);
        if (status === undefined) return reject(new EtcdUnreachable(`${path}: no answer`));
        if (status !== 0) return reject(new EtcdGrpcError(status, statusMessage));
        const [first] = unframe(data).messages;
        resolve(ProtoMessage.decode(first ?? Buffer.alloc(0)));
      });
    });
  }

  /**
   * Opens a call on the preferred endpoint, failing over to the next ones when one cannot be reached.
   * `end`: half-close after `body` (unary) or keep the stream open (watch).
   */
  private async open(path: string, body: Buffer, end: boolean): Promise<{ stream: ClientHttp2Stream }> {
    if (this.closed) throw new EtcdUnreachable('client closed');
    const failures: string[] = [];
    for (let offset = 0; offset < this.endpoints.length; offset++) {
      const index = (this.preferred + offset) % this.endpoints.length;
      const endpoint = this.endpoints[index] as string;
      try {
        const session = await this.session(endpoint);
        const stream = session.request({
          ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers',
          ...(this.token && !path.endsWith('/Authenticate') ? { token: this.token } : {}),
        });
        if (end) stream.end(body);
        else stream.write(body);
        this.preferred = index;
        return { stream };
      } catch (error) {
        failures.push(`${endpoint}: ${(error as Error).message}`);
      }
    }
    throw new EtcdUnreachable(`no etcd endpoint answered (${failures.join('; ')})`);
  }

  /** One HTTP/2 connection per endpoint, made on first use and dropped when it fails. */
  private session(endpoint: string): Promise<ClientHttp2Session> {
    const existing = this.sessions.get(endpoint);
    if (existing && !existing.closed && !existing.destroyed) return Promise.resolve(existing);
    const { tls } = this.options;
    return new Promise((resolve, reject) => {
      const session = connect(endpoint, tls ? { cert: tls.cert, key: tls.key, ...(tls.ca ? { ca: tls.ca } : {}) } : {});
      const timer = setTimeout(() => session.destroy(new Error(`no connection within ${this.options.requestTimeoutMs ?? 5000} ms`)), this.options.requestTimeoutMs ?? 5000);
      session.once('connect', () => {
        clearTimeout(timer);
        this.sessions.set(endpoint, session);
        resolve(session);
      });
      // Also after connecting: a connection that fails later is dropped (its streams see the error) instead of
      // an unhandled 'error' event taking the process down.
      session.on('error', (error) => {
        clearTimeout(timer);
        this.sessions.delete(endpoint);
        reject(error);
      });
      // Keepalive, as gRPC clients do: a watch on a connection whose peer vanished without a FIN would otherwise
      // wait forever. An unanswered PING by the next tick (≤ 2 × KEEPALIVE_MS) drops the connection; the
      // watch then fails and is resumed on another connection.
      let pingOutstanding = false;
      const keepalive = setInterval(() => {
        // 'close' (which clears this timer) comes a tick after destroy(): never ping a dead session, it throws.
        if (session.destroyed || session.closed) return clearInterval(keepalive);
        if (pingOutstanding) return session.destroy(new Error('etcd did not answer an HTTP/2 PING'));
        pingOutstanding = true;
        try {
          session.ping((error) => {
            pingOutstanding = false;
            if (error) session.destroy(error);
          });
        } catch (error) {
          session.destroy(error as Error);
        }
      }, this.options.keepaliveMs ?? KEEPALIVE_MS);
      keepalive.unref();
      session.once('close', () => {
        clearInterval(keepalive);
        this.sessions.delete(endpoint);
      });
      session.on('goaway', () => this.sessions.delete(endpoint));
    });
  }
}
