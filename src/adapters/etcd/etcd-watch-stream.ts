/**
 * One open etcd Watch stream: decodes WatchResponses as they arrive and hands them out one at a time, or the
 * error that ended the stream (a gRPC status in the trailers, a reset, a dropped connection).
 */
import type { ClientHttp2Stream } from 'node:http2';
import { constants } from 'node:http2';
import { unframe } from './grpc-frame.js';
import { ProtoMessage } from './protobuf.js';

/** etcd's ResponseHeader: which cluster and member answered, at which store revision and raft term. */
export interface ResponseHeader {
  readonly clusterId: bigint;
  readonly memberId: bigint;
  readonly revision: bigint;
  readonly raftTerm: bigint;
}

export interface KeyValue {
  readonly key: string;
  readonly value: string;
  readonly lease: bigint;
  readonly modRevision: bigint;
  readonly createRevision: bigint;
}

export interface WatchResult {
  readonly header: ResponseHeader;
  /** The first response of a watch: `header.revision` is the store's revision when the watch was created. */
  readonly created: boolean;
  readonly revision: bigint;
  readonly events: ReadonlyArray<{ readonly type: 'PUT' | 'DELETE'; readonly kv: KeyValue }>;
  readonly canceled: boolean;
  readonly compactRevision: bigint;
  readonly cancelReason: string;
}

export function parseHeader(message: ProtoMessage): ResponseHeader {
  return { clusterId: message.uint(1), memberId: message.uint(2), revision: message.int(3), raftTerm: message.uint(4) };
}

export function parseKv(message: ProtoMessage): KeyValue {
  return { key: message.string(1), value: message.string(5), lease: message.int(6), modRevision: message.int(3), createRevision: message.int(2) };
}

function parseWatchResponse(response: ProtoMessage): WatchResult {
  const header = parseHeader(response.message(1));
  return {
    header,
    created: response.bool(3),
    revision: header.revision,
    events: response.messages(11).map((event) => ({ type: event.int(1) === 1n ? ('DELETE' as const) : ('PUT' as const), kv: parseKv(event.message(2)) })),
    canceled: response.bool(4),
    compactRevision: response.int(5),
    cancelReason: response.string(6),
  };
}

/** Thrown by `next` when no response came within the time given. */
export class WatchTimeout extends Error {}

export class WatchStream {
  private readonly queue: Array<WatchResult | Error> = [];
  private wake: (() => void) | undefined;

  /**
   * `failure(status)` turns the end of the stream into the error to throw: a gRPC status and message from the
   * trailers, or undefined status for a stream that ended without one (reset, connection lost).
   */
  constructor(
    private readonly stream: ClientHttp2Stream,
    failure: (status: number | undefined, message: string, cause?: Error) => Error,
  ) {
    let pending: Buffer = Buffer.alloc(0);
    stream.on('data', (chunk: Buffer) => {
      const { messages, rest } = unframe(Buffer.concat([pending, chunk]));
      pending = Buffer.from(rest);
      for (const raw of messages) {
        try {
          this.push(parseWatchResponse(ProtoMessage.decode(raw)));
        } catch (error) {
          this.push(failure(undefined, `undecodable watch response: ${(error as Error).message}`));
          stream.close(constants.NGHTTP2_CANCEL);
        }
      }
    });
    const takeStatus = (headers: Record<string, unknown>) => {
      const status = Number(headers['grpc-status'] ?? 0);
      if (headers['grpc-status'] !== undefined && status !== 0) {
        this.push(failure(status, safeDecode(String(headers['grpc-message'] ?? 'watch failed'))));
      }
    };
    stream.on('response', takeStatus);
    stream.on('trailers', takeStatus);
    stream.on('error', (error: Error) => this.push(failure(undefined, error.message, error)));
    stream.on('close', () => this.push(failure(undefined, 'watch stream closed')));
  }

  /** The next response; undefined once `signal` aborts; throws the stream's error, or WatchTimeout. */
  async next(signal: AbortSignal, timeoutMs?: number): Promise<WatchResult | undefined> {
    let timedOut = false;
    const timer = timeoutMs === undefined ? undefined : setTimeout(() => ((timedOut = true), this.wake?.()), timeoutMs);
    const onAbort = () => this.wake?.();
    signal.addEventListener('abort', onAbort);
    try {
      for (;;) {
        if (signal.aborted) return undefined;
        const item = this.queue[0];
        if (item instanceof Error) throw item;
        if (item) return this.queue.shift() as WatchResult;
        if (timedOut) throw new WatchTimeout(`no watch response within ${timeoutMs} ms`);
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = undefined;
      }
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    }
  }

  close(): void {
    this.stream.close(constants.NGHTTP2_CANCEL);
  }

  private push(item: WatchResult | Error): void {
    // The first error ends the stream; later ones ('close' after 'error') add nothing.
    if (this.queue.some((queued) => queued instanceof Error)) return;
    this.queue.push(item);
    this.wake?.();
  }
}

/** grpc-message is percent-encoded; a malformed escape from a hostile server must not throw. */
export function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
