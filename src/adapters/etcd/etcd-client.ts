/**
 * A small etcd v3 client speaking gRPC over Node's own HTTP/2, for exactly what flanneld needs: range, put,
 * delete, the create-if-absent transaction, lease grant/revoke, watch streams, TLS (a CA alone, or with a client
 * certificate), user authentication and failover across endpoints (EtcdConnections).
 *
 * Why not npm `etcd3`: it loads grpc-js and parses etcd's .proto files at start-up, ~250 ms and ~25 MB of RSS
 * in every flanneld, for a dozen message types. Why gRPC and not etcd's JSON gateway: the gateway refuses client
 * certificates that carry a CommonName when client-cert auth and RBAC are both on — a common flannel setup.
 *
 * Failover: a request goes to the endpoint that answered last; when an endpoint cannot be reached, resets the
 * request, answers UNAVAILABLE (no leader, shutting down) or does not answer within `requestTimeoutMs` (its
 * connection is PINGed after 1 s without an answer, and dropped when that goes unanswered too), the
 * request moves on to the next endpoint — except the one request that must not run twice (create-if-absent),
 * which fails retryably instead once it may have reached etcd. A watch is opened on the first endpoint that
 * confirms it (etcd's "created" response) in time, with gRPC's `hasleader` metadata, so that a member cut off
 * from the quorum ends it instead of keeping it silent.
 *
 * Authentication: the token is fetched on first use and fetched again when etcd rejects it — in unary calls
 * and when a watch is created (tokens expire after etcd's --auth-token-ttl, and all of them on an etcd restart).
 *
 * Errors: EtcdUnreachable after every endpoint failed (`configuration` when each failed for a reason retrying
 * cannot fix: TLS trust, a rejected client certificate, a scheme that does not match the port); any other gRPC
 * status becomes EtcdGrpcError with etcd's code and message.
 */
import { constants } from 'node:http2';
import { EndpointFailure, type EtcdConnectionOptions, EtcdConnections } from './etcd-connections.js';
import { describeConnectionFailure } from './etcd-connection-errors.js';
import { type KeyValue, type ResponseHeader, type WatchResult, WatchStream, WatchTimeout, parseHeader, parseKv, safeDecode } from './etcd-watch-stream.js';
import { frame, unframe } from './grpc-frame.js';
import { ProtoMessage, ProtoWriter } from './protobuf.js';

export type { KeyValue, ResponseHeader, WatchResult } from './etcd-watch-stream.js';

export interface EtcdClientOptions extends EtcdConnectionOptions {
  readonly username?: string;
  readonly password?: string;
  /** How long one endpoint has to answer a request (default 5 s) before the next one is tried. */
  readonly requestTimeoutMs?: number;
}

export class EtcdUnreachable extends Error {
  constructor(
    message: string,
    /** Every endpoint failed for a reason that retrying cannot fix (TLS, scheme). */
    readonly configuration = false,
  ) {
    super(message);
  }
}

export class EtcdGrpcError extends Error {
  constructor(
    readonly grpcCode: number,
    message: string,
  ) {
    super(message);
  }
}

export const GRPC_STATUS = { invalidArgument: 3, permissionDenied: 7, outOfRange: 11, unavailable: 14, unauthenticated: 16 } as const;

const DEFAULT_REQUEST_TIMEOUT_MS = 5000;
/** A request unanswered this long gets its connection PINGed: a hung member is left without waiting for the timeout. */
const PROBE_AFTER_MS = 1000;
/** etcd's answers to a token that expired (--auth-token-ttl) or died with a restart; 3.4 says "permission denied" on watches. */
const STALE_TOKEN = /invalid auth token|token is not provided|auth revision is old|permission denied/i;

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

/** A failure after the request may have reached etcd (so it must not be repeated unless idempotent). */
class AfterSend extends Error {
  constructor(
    message: string,
    readonly timedOut = false,
  ) {
    super(message);
  }
}

export class EtcdClient {
  private readonly connections: EtcdConnections;
  private token: string | undefined;

  constructor(private readonly options: EtcdClientOptions) {
    this.connections = new EtcdConnections(options);
    if (this.connections.endpoints.length === 0) throw new EtcdUnreachable('no etcd endpoints given');
  }

  async get(key: string): Promise<KeyValue | undefined> {
    return (await this.range(new ProtoWriter().bytes(1, key))).kvs[0];
  }

  async getPrefix(prefix: string): Promise<{ kvs: KeyValue[]; revision: bigint; header: ResponseHeader }> {
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

  /**
   * `put(key, value, lease)` only if the key does not exist (version == 0); returns whether it was created.
   * Never sent twice: a repeat after an unanswered first attempt could report our own key as someone else's.
   */
  async createIfAbsent(key: string, value: string, lease: bigint): Promise<boolean> {
    const request = new ProtoWriter()
      // Compare{result: EQUAL (0), target: VERSION (0), key, version: 0} — version is a oneof, so 0 is written.
      .message(1, (compare) => compare.bytes(3, key).varint(4, 0))
      .message(2, (op) => op.message(2, (put) => put.bytes(1, key).bytes(2, value).varint(3, lease)));
    return (await this.call('/etcdserverpb.KV/Txn', request, false)).bool(2);
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
   * Seconds left on etcd lease `id` (LeaseTimeToLive), or -1 when it has expired or does not exist (etcd's
   * answer for both).
   */
  async leaseTimeToLive(id: bigint): Promise<number> {
    const response = await this.call('/etcdserverpb.Lease/LeaseTimeToLive', new ProtoWriter().varint(1, id));
    return Number(response.int(3));
  }

  /**
   * Watches keys with `prefix` from `startRevision`; yields every response, the "created" one first, until
   * `signal` aborts. When the stream breaks it throws (EtcdUnreachable, or EtcdGrpcError with etcd's status),
   * so the caller resumes from the last revision it saw — on another endpoint if this one failed.
   */
  async *watch(prefix: string, startRevision: bigint, signal: AbortSignal): AsyncGenerator<WatchResult> {
    const create = new ProtoWriter().message(1, (request) => request.bytes(1, prefix).bytes(2, prefixEnd(prefix)).varintIfSet(3, startRevision));
    let opened = await this.openWatch(frame(create.toBuffer()), signal);
    if (!opened) return;
    if (this.options.username && opened.created.canceled && STALE_TOKEN.test(opened.created.cancelReason)) {
      opened.stream.close();
      this.token = undefined;
      opened = await this.openWatch(frame(create.toBuffer()), signal);
      if (!opened) return;
    }
    const { stream } = opened;
    try {
      yield opened.created;
      for (;;) {
        const result = await stream.next(signal);
        if (!result) return;
        yield result;
      }
    } finally {
      stream.close();
    }
  }

  close(): void {
    this.connections.close();
  }

  /** Opens a watch on the first endpoint that confirms its creation in time; undefined when aborted. */
  private async openWatch(body: Buffer, signal: AbortSignal): Promise<{ stream: WatchStream; created: WatchResult } | undefined> {
    const timeoutMs = this.options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    return this.failover(true, async (endpoint) => {
      const http2Stream = await this.connections.stream(endpoint, { ':path': '/etcdserverpb.Watch/Watch', hasleader: 'true', ...(await this.tokenHeader()) });
      http2Stream.write(body);
      const stream = new WatchStream(http2Stream, (status, message, cause) => this.streamFailure(endpoint, status, message, cause));
      const probe = setTimeout(() => this.connections.probe(endpoint), Math.min(PROBE_AFTER_MS, timeoutMs));
      try {
        const created = await stream.next(signal, timeoutMs);
        return created && { stream, created };
      } catch (error) {
        stream.close();
        throw error;
      } finally {
        clearTimeout(probe);
      }
    });
  }

  private async range(request: ProtoWriter): Promise<{ kvs: KeyValue[]; revision: bigint; header: ResponseHeader }> {
    const response = await this.call('/etcdserverpb.KV/Range', request);
    const header = parseHeader(response.message(1));
    return { kvs: response.messages(2).map(parseKv), revision: header.revision, header };
  }

  /** A unary call, authenticated when a user is configured; a stale token is renewed once. */
  private async call(path: string, request: ProtoWriter, idempotent = true): Promise<ProtoMessage> {
    const body = frame(request.toBuffer());
    try {
      return await this.failover(idempotent, async (endpoint) => this.unary(endpoint, path, body, await this.tokenHeader()));
    } catch (error) {
      if (error instanceof EtcdGrpcError && this.options.username && this.token !== undefined && STALE_TOKEN.test(error.message)) {
        this.token = undefined;
        return this.failover(idempotent, async (endpoint) => this.unary(endpoint, path, body, await this.tokenHeader()));
      }
      throw error;
    }
  }

  /**
   * Runs `attempt` on each endpoint in turn until one answers. An endpoint that could not be reached is always
   * skipped; one that failed after the request was sent (timeout, reset, UNAVAILABLE) only when `idempotent`.
   */
  private async failover<T>(idempotent: boolean, attempt: (endpoint: string) => Promise<T>): Promise<T> {
    const failures: EndpointFailure[] = [];
    const queue = this.connections.candidates();
    const retried = new Set<string>();
    for (let endpoint = queue.shift(); endpoint !== undefined; endpoint = queue.shift()) {
      const reused = this.connections.connected(endpoint);
      try {
        const result = await attempt(endpoint);
        this.connections.succeeded(endpoint);
        return result;
      } catch (error) {
        const unavailable = error instanceof EtcdGrpcError && error.grpcCode === GRPC_STATUS.unavailable;
        if (error instanceof EtcdGrpcError && !unavailable) {
          this.connections.succeeded(endpoint);
          throw error;
        }
        const failure = error instanceof EndpointFailure ? error : new EndpointFailure((error as Error).message, false);
        const sent = error instanceof AfterSend || error instanceof WatchTimeout || unavailable;
        if (sent && !idempotent) throw unavailable ? error : new EtcdUnreachable(failure.message);
        // A connection made before this request may have died unnoticed (etcd restarted, a NAT forgot it):
        // one more try on a new connection before calling the endpoint failed.
        const timedOut = error instanceof WatchTimeout || (error instanceof AfterSend && error.timedOut);
        if (reused && !unavailable && !timedOut && !failure.configuration && !retried.has(endpoint) && !this.connections.failureOf(endpoint)) {
          retried.add(endpoint);
          this.connections.drop(endpoint);
          queue.unshift(endpoint);
          continue;
        }
        failures.push(failure);
      }
    }
    const configuration = failures.length > 0 && failures.every((failure) => failure.configuration);
    throw new EtcdUnreachable(`no etcd endpoint answered (${failures.map((failure) => failure.message).join('; ')})`, configuration);
  }

  private async tokenHeader(): Promise<Record<string, string>> {
    if (!this.options.username) return {};
    if (this.token === undefined) {
      const request = new ProtoWriter().bytes(1, this.options.username).bytes(2, this.options.password ?? '');
      const response = await this.failover(true, (endpoint) => this.unary(endpoint, '/etcdserverpb.Auth/Authenticate', frame(request.toBuffer()), {}));
      this.token = response.string(2);
    }
    return { token: this.token };
  }

  private streamFailure(endpoint: string, status: number | undefined, message: string, cause?: Error): Error {
    if (status !== undefined) return new EtcdGrpcError(status, message);
    const failure = this.connections.failureOf(endpoint) ?? (cause ? describeConnectionFailure(endpoint, cause, true) : undefined);
    return new EtcdUnreachable(failure?.message ?? `${endpoint}: ${message}`, failure?.configuration ?? false);
  }

  /** One request on one endpoint: the decoded answer, EtcdGrpcError, EndpointFailure (not sent) or AfterSend. */
  private async unary(endpoint: string, path: string, body: Buffer, headers: Record<string, string>): Promise<ProtoMessage> {
    const stream = await this.connections.stream(endpoint, { ':path': path, ...headers });
    const timeoutMs = this.options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let status: number | undefined;
      let statusMessage = '';
      let timedOut = false;
      let streamError: Error | undefined;
      const probe = setTimeout(() => this.connections.probe(endpoint), Math.min(PROBE_AFTER_MS, timeoutMs));
      const timer = setTimeout(() => {
        timedOut = true;
        stream.close(constants.NGHTTP2_CANCEL);
      }, timeoutMs);
      const takeStatus = (received: Record<string, unknown>) => {
        if (received['grpc-status'] === undefined) return;
        status = Number(received['grpc-status']);
        statusMessage = safeDecode(String(received['grpc-message'] ?? ''));
      };
      stream.on('response', takeStatus);
      stream.on('trailers', takeStatus);
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('error', (error: Error) => (streamError = error));
      stream.on('close', () => {
        clearTimeout(timer);
        clearTimeout(probe);
        if (status === undefined) {
          const failure = this.connections.failureOf(endpoint) ?? (streamError ? describeConnectionFailure(endpoint, streamError, true) : undefined);
          const message = timedOut ? `${endpoint}: ${path}: no answer within ${timeoutMs} ms` : (failure?.message ?? `${endpoint}: ${path}: no answer`);
          if (failure?.configuration) return reject(failure);
          return reject(new AfterSend(message, timedOut));
        }
        if (status !== 0) return reject(new EtcdGrpcError(status, statusMessage));
        try {
          const [first] = unframe(Buffer.concat(chunks)).messages;
          resolve(ProtoMessage.decode(first ?? Buffer.alloc(0)));
        } catch (error) {
          reject(new AfterSend(`${endpoint}: ${path}: undecodable answer: ${(error as Error).message}`));
        }
      });
      stream.end(body);
    });
  }
}
