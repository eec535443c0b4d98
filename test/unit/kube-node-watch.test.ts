/** The list+watch loop over a scripted API: where it resumes from, when it re-lists, what it hands over. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { leaseKey } from '../../src/lease/lease.js';
import type { LeaseWatchResult } from '../../src/lease/lease-tracker.js';
import { kubeAnnotations } from '../../src/subnet/kube-annotations.js';
import { type KubeApi, KubeApiError, type KubeNode, type NodeList, type NodeWatchEvent } from '../../src/subnet/kube-api.js';
import { NodeLeaseTable } from '../../src/subnet/kube-node-table.js';
import { watchNodeLeases } from '../../src/subnet/kube-node-watch.js';
import { silentLogger } from '../../src/support/logger.js';
import { Backoff } from '../../src/support/timing.js';

const names = kubeAnnotations('flannel.alpha.coreos.com');
const P = 'flannel.alpha.coreos.com/';
const node = (index: number, resourceVersion: string, ip = `198.18.0.${index}`): KubeNode => ({
  name: `n${index}`, resourceVersion, podCIDR: `10.244.${index}.0/24`, podCIDRs: [],
  annotations: { [`${P}kube-subnet-manager`]: 'true', [`${P}public-ip`]: ip, [`${P}backend-type`]: 'host-gw' },
});

type Step = NodeWatchEvent | Error;
/** Lists and watch streams given in order; each watch stream is a list of events or errors (thrown there). */
function scriptedApi(lists: Array<NodeList | Error>, watches: Step[][]): KubeApi & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    async listNodes() {
      calls.push('list');
      const next = lists.shift();
      if (!next) return new Promise(() => undefined);
      if (next instanceof Error) throw next;
      return next;
    },
    async *watchNodes(resourceVersion: string, signal: AbortSignal) {
      calls.push(`watch ${resourceVersion}`);
      const steps = watches.shift();
      if (!steps) {
        await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
        return;
      }
      for (const step of steps) {
        if (step instanceof Error) throw step;
        yield step;
      }
    },
    getNode: () => Promise.reject(new Error('unused')),
    getPodNodeName: () => Promise.reject(new Error('unused')),
    patchNodeStatus: () => Promise.reject(new Error('unused')),
    close: () => Promise.resolve(),
  };
}

async function run(api: KubeApi, results: number): Promise<string[]> {
  const controller = new AbortController();
  const seen: string[] = [];
  const show = (result: LeaseWatchResult) => result.kind === 'snapshot'
    ? `snapshot ${result.leases.map((l) => `${leaseKey(l)}@${l.attrs.publicIP}`).join(' ')}`
    : `events ${result.events.map((e) => (e.type === 'added' ? `+${leaseKey(e.lease)}@${e.lease.attrs.publicIP}` : `-${leaseKey(e)}`)).join(' ')}`;
  const table = new NodeLeaseTable({ annotations: names, enableIPv4: true, enableIPv6: false });
  for await (const result of watchNodeLeases({ api, table, signal: controller.signal, logger: silentLogger(), onMalformed: (m) => seen.push(`malformed ${m.key}: ${m.reason}`), queueDepth: 100, backoff: new Backoff(1, 2) })) {
    seen.push(show(result));
    if (seen.filter((line) => !line.startsWith('malformed')).length >= results) break;
  }
  controller.abort();
  return seen;
}

describe('node list+watch loop', () => {
  it('resumes from the last event or bookmark, re-lists on 410 (event or status), retries other failures from the same place', async () => {
    const api = scriptedApi(
      [{ resourceVersion: '10', nodes: [node(1, '5'), node(2, '6')], malformed: [] }, { resourceVersion: '30', nodes: [node(1, '5')], malformed: [] },
        { resourceVersion: '40', nodes: [node(1, '5'), node(3, '35')], malformed: [] }],
      [
        [{ type: 'MODIFIED', node: node(2, '11', '198.18.0.22') }, { type: 'BOOKMARK', resourceVersion: '15' }],
        [new KubeApiError(0, 'connection reset')],
        [{ type: 'MALFORMED', entry: { key: 'node watch', reason: 'not JSON' } }, { type: 'ERROR', code: 410, reason: 'Expired', message: 'too old' }],
        [new KubeApiError(410, 'gone')],
      ],
    );
    const seen = await run(api, 4);
    assert.deepEqual(api.calls, ['list', 'watch 10', 'watch 15', 'watch 15', 'list', 'watch 30', 'list']);
    assert.deepEqual(seen, [
      'snapshot 10.244.1.0-24@198.18.0.1 10.244.2.0-24@198.18.0.2',
      'events +10.244.2.0-24@198.18.0.22',
      'malformed node watch: not JSON',
      'snapshot 10.244.1.0-24@198.18.0.1',
      'snapshot 10.244.1.0-24@198.18.0.1 10.244.3.0-24@198.18.0.3',
    ]);
  });

  it('a failing list is retried; a non-410 ERROR event ends the watch and it resumes', async () => {
    const api = scriptedApi(
      [new KubeApiError(503, 'unavailable'), { resourceVersion: '7', nodes: [], malformed: [{ key: 'node list item', reason: 'node without metadata.name' }] }],
      [[{ type: 'ERROR', code: 500, reason: 'InternalError', message: 'boom' }], [{ type: 'ADDED', node: node(4, '8') }]],
    );
    const seen = await run(api, 2);
    assert.deepEqual(api.calls, ['list', 'list', 'watch 7', 'watch 7']);
    assert.deepEqual(seen, ['malformed node list item: node without metadata.name', 'snapshot ', 'events +10.244.4.0-24@198.18.0.4']);
  });
});

describe('read-ahead queue (EVENT_QUEUE_DEPTH)', () => {
  it('reads at most `depth` items ahead of the consumer and hands over batches; a source error comes after its items', async () => {
    const { readAhead } = await import('../../src/subnet/kube-event-queue.js');
    let produced = 0;
    async function* source() {
      for (let index = 1; index <= 5; index++) {
        produced = index;
        yield index;
      }
      throw new Error('stream broke');
    }
    const iterator = readAhead(source(), 2)[Symbol.asyncIterator]();
    const first = await iterator.next();
    await new Promise((resolve) => setTimeout(resolve, 10));
    assert.deepEqual(first.value, [1]);
    assert.ok(produced <= 3, `read ${produced} items with a depth of 2 and one batch taken`);
    const batches: number[][] = [first.value as number[]];
    await assert.rejects(async () => {
      for (let next = await iterator.next(); !next.done; next = await iterator.next()) batches.push(next.value);
    }, /stream broke/);
    assert.deepEqual(batches.flat(), [1, 2, 3, 4, 5]);
    assert.ok(batches.every((batch) => batch.length <= 2));
  });
});
