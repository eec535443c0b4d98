/**
 * The fake API server's open watch streams: each one replays the changes after its `resourceVersion` (or the
 * current state as ADDED events from "" / "0", or with `sendInitialEvents` — watch-list — followed by the
 * initial-events-end BOOKMARK), then gets every Node change the store reports, as chunked NDJSON. BOOKMARKs
 * every `bookmarkIntervalMs` only when the client allows them; `timeoutSeconds` ends the stream; a compacted
 * resourceVersion is 410 Gone either as an HTTP status (thrown to the caller) or as an ERROR event followed by
 * the end of the stream (`goneAs`). `drop` cuts every stream, optionally in the middle of an event.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiStatusError, type JsonObject } from '../../kube-fake/api-status.js';
import type { ClusterStore, NodeEvent } from '../../kube-fake/cluster-store.js';

interface Watch {
  readonly response: ServerResponse;
  readonly matches: (object: JsonObject) => boolean;
}

export interface FakeWatchesOptions {
  readonly store: ClusterStore;
  /** How a compacted resourceVersion is answered (read at each watch: tests switch it). */
  readonly goneAs: () => 'event' | 'status';
  /** 0: never send bookmarks. */
  readonly bookmarkIntervalMs: number;
}

export class FakeWatches {
  private readonly watches = new Set<Watch>();

  constructor(private readonly options: FakeWatchesOptions) {}

  get size(): number {
    return this.watches.size;
  }

  /** Serves one watch request; throws ApiStatusError (410 as status, 400) before anything is written. */
  open(query: URLSearchParams, matches: (object: JsonObject) => boolean, request: IncomingMessage, response: ServerResponse): void {
    const { store } = this.options;
    const bookmarks = query.get('allowWatchBookmarks') === 'true';
    const initialEvents = query.get('sendInitialEvents') === 'true';
    const from = initialEvents ? '0' : query.get('resourceVersion') ?? '';
    let backlog: NodeEvent[];
    try {
      backlog = store.changesSince(from);
    } catch (error) {
      if (!(error instanceof ApiStatusError) || error.code !== 410 || this.options.goneAs() === 'status') throw error;
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ type: 'ERROR', object: error.toStatus() }) + '\n');
      return;
    }
    response.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-cache, private' });
    response.flushHeaders();
    request.socket.setNoDelay(true);
    const watch: Watch = { response, matches };
    for (const event of backlog) deliver(watch, event);
    if (initialEvents) response.write(JSON.stringify({ type: 'BOOKMARK', object: bookmarkObject(store.resourceVersion, true) }) + '\n');
    this.watches.add(watch);
    const timers: NodeJS.Timeout[] = [];
    const timeoutSeconds = Number(query.get('timeoutSeconds') ?? '0');
    if (Number.isFinite(timeoutSeconds) && timeoutSeconds > 0) timers.push(setTimeout(() => response.end(), timeoutSeconds * 1000));
    const interval = this.options.bookmarkIntervalMs;
    if (bookmarks && interval > 0) {
      timers.push(setInterval(() => response.write(JSON.stringify({ type: 'BOOKMARK', object: bookmarkObject(store.resourceVersion, false) }) + '\n'), interval));
    }
    response.on('close', () => {
      for (const timer of timers) clearTimeout(timer);
      this.watches.delete(watch);
    });
  }

  /** Sends a store change to every open watch it matches. */
  broadcast(event: NodeEvent): void {
    for (const watch of this.watches) deliver(watch, event);
  }

  /** Cuts every open watch; with `midEvent`, after writing the first half of a made-up event. */
  drop(options: { midEvent?: boolean } = {}): number {
    const count = this.watches.size;
    for (const watch of [...this.watches]) {
      if (options.midEvent) watch.response.write('{"type":"MODIFIED","object":{"kind":"Node","apiVersion":"v1","metadata":{"name":"half');
      watch.response.socket?.destroy();
      this.watches.delete(watch);
    }
    return count;
  }
}

function deliver(watch: Watch, event: NodeEvent): void {
  if (!watch.matches(event.object)) return;
  watch.response.write(JSON.stringify({ type: event.type, object: { kind: 'Node', apiVersion: 'v1', ...event.object } }) + '\n');
}

function bookmarkObject(resourceVersion: string, initialEventsEnd: boolean): JsonObject {
  return {
    kind: 'Node', apiVersion: 'v1',
    metadata: { resourceVersion, creationTimestamp: null, ...(initialEventsEnd ? { annotations: { 'k8s.io/initial-events-end': 'true' } } : {}) },
    spec: {}, status: { daemonEndpoints: { kubeletEndpoint: { Port: 0 } }, nodeInfo: {} },
  };
}
