/**
 * The lease stream of Kubernetes mode: list Nodes, then watch them from the list's resourceVersion, forever.
 *
 * - Every (re-)list becomes a snapshot (the NodeLeaseTable diff makes a node deleted while we were away
 *   disappear; nobody else's lease changes).
 * - A watch that ends (server timeout, dropped connection) resumes from the last resourceVersion seen — of an
 *   event or a BOOKMARK. Bookmarks are asked for and tolerated, never relied on.
 * - 410 Gone, as an HTTP status or as an ERROR event, means the resourceVersion was compacted: re-list.
 * - Any other failure backs off (100 ms doubling to 5 s, as upstream's lease watch; reset by a good batch) and
 *   retries; there is no cache to wait for, so no ten-minute start-up wait.
 * - Events are read ahead into a queue of `queueDepth` (EVENT_QUEUE_DEPTH) and handed over in batches.
 */
import type { LeaseEvent, LeaseWatchResult } from '../lease/lease-tracker.js';
import { errorMessage } from '../support/errors.js';
import type { Logger } from '../support/logger.js';
import { Backoff, sleep, whenAborted } from '../support/timing.js';
import { type KubeApi, KubeApiError, isKubeStatus } from './kube-api.js';
import { readAhead } from './kube-event-queue.js';
import type { NodeLeaseTable } from './kube-node-table.js';
import type { MalformedEntry } from './registry.js';

export interface NodeWatchOptions {
  readonly api: KubeApi;
  readonly table: NodeLeaseTable;
  readonly signal: AbortSignal;
  readonly logger: Logger;
  readonly onMalformed: (entry: MalformedEntry) => void;
  readonly queueDepth: number;
  readonly backoff?: Backoff;
  /** Called after each list and each watch start (tests and metrics). */
  readonly onRequest?: (kind: 'list' | 'watch', resourceVersion: string | undefined) => void;
}

export async function* watchNodeLeases(options: NodeWatchOptions): AsyncGenerator<LeaseWatchResult> {
  const { api, table, signal, logger, onMalformed } = options;
  const backoff = options.backoff ?? new Backoff(100, 5000);
  let resourceVersion: string | undefined;
  while (!signal.aborted) {
    if (resourceVersion === undefined) {
      options.onRequest?.('list', undefined);
      try {
        const list = await api.listNodes(signal);
        list.malformed.forEach(onMalformed);
        table.reset(list.nodes).problems.forEach(onMalformed);
        resourceVersion = list.resourceVersion;
      } catch (error) {
        if (signal.aborted) break;
        logger.warn({ err: errorMessage(error) }, 'listing nodes failed; retrying');
        await sleep(backoff.next(), signal);
        continue;
      }
      yield { kind: 'snapshot', leases: table.snapshot() };
    }
    // The abort may have come while the snapshot above was with the consumer.
    const watchAbort = new AbortController();
    const detach = whenAborted(signal, () => watchAbort.abort());
    let delivered = false;
    try {
      options.onRequest?.('watch', resourceVersion);
      for await (const batch of readAhead(api.watchNodes(resourceVersion, watchAbort.signal), options.queueDepth)) {
        const events: LeaseEvent[] = [];
        let gone = false;
        for (const event of batch) {
          if (event.type === 'BOOKMARK') {
            resourceVersion = event.resourceVersion;
          } else if (event.type === 'MALFORMED') {
            onMalformed(event.entry);
          } else if (event.type === 'ERROR') {
            if (event.code !== 410) throw new KubeApiError(event.code, `watch error from the API server: ${event.code} ${event.reason}: ${event.message}`);
            gone = true;
            break;
          } else {
            const change = table.apply(event.type, event.node);
            change.problems.forEach(onMalformed);
            events.push(...change.events);
            resourceVersion = event.node.resourceVersion;
          }
        }
        delivered = true;
        backoff.reset();
        if (events.length > 0) yield { kind: 'events', events };
        if (gone) {
          logger.warn({ resourceVersion }, 'node watch expired (410 Gone); re-listing nodes');
          resourceVersion = undefined;
          break;
        }
      }
      // A stream that ends at once, again and again, must not become a busy loop.
      if (!delivered && resourceVersion !== undefined) await sleep(backoff.next(), signal);
    } catch (error) {
      if (signal.aborted) break;
      if (isKubeStatus(error, 410)) {
        logger.warn({ resourceVersion }, 'node watch expired (410 Gone); re-listing nodes');
        resourceVersion = undefined;
        continue;
      }
      logger.warn({ err: errorMessage(error), resourceVersion }, 'node watch failed; resuming');
      await sleep(backoff.next(), signal);
    } finally {
      detach();
      watchAbort.abort();
    }
  }
}
