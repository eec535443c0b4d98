/** The etcd client notices a peer that stops answering (SIGSTOPped etcd: connection up, no replies). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EtcdClient, EtcdUnreachable } from '../../src/adapters/etcd/etcd-client.js';
import { assertInContractNetns } from '../support/contract-netns.js';
import { startEtcd } from '../support/etcd-server.js';

assertInContractNetns();

describe('etcd client keepalive', () => {
  it('a watch on a frozen etcd fails within two keepalive intervals, so it can be resumed elsewhere', async () => {
    const etcd = await startEtcd(23800);
    const client = new EtcdClient({ endpoints: [etcd.url], keepaliveMs: 500 });
    const controller = new AbortController();
    try {
      const watch = client.watch('/coreos.com/network/subnets/', 1n, controller.signal);
      const first = watch.next();
      await client.put('/coreos.com/network/subnets/10.1.1.0-24', '{}');
      assert.equal((await first).done, false, 'the watch works');
      process.kill(etcd.pid, 'SIGSTOP');
      const started = Date.now();
      try {
        await assert.rejects(watch.next(), (error: unknown) => error instanceof EtcdUnreachable);
      } finally {
        process.kill(etcd.pid, 'SIGCONT');
      }
      const elapsed = Date.now() - started;
      assert.ok(elapsed < 3000, `noticed after ${elapsed} ms (keepalive 500 ms)`);
    } finally {
      controller.abort();
      client.close();
      await etcd.stop();
    }
  });
});
