/**
 * A watch resumed after etcd's auth token expired (--auth-token-ttl, 300 s by default) re-authenticates,
 * instead of being refused until some unary call happens to renew the token (hours later).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { EtcdClient, type WatchResult } from '../../src/adapters/etcd/etcd-client.js';
import { sleep } from '../../src/support/timing.js';
import { assertInContractNetns } from '../support/contract-netns.js';
import { type EtcdServer, startEtcd } from '../support/etcd-server.js';

assertInContractNetns();

const PREFIX = '/coreos.com/network/subnets/';

/** The first result of a new watch from `from` (the "created" response), within 5 s. */
async function created(client: EtcdClient, from: bigint): Promise<WatchResult> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), 5000);
  try {
    for await (const result of client.watch(PREFIX, from, controller.signal)) return result;
    assert.fail('no watch response within 5 s');
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
}

describe('etcd watch with user authentication', () => {
  let etcd: EtcdServer;
  let client: EtcdClient;
  before(async () => {
    etcd = await startEtcd({ clientPort: 23840, args: ['--auth-token-ttl', '1'] });
    for (const args of [['user', 'add', 'root:root-pw'], ['role', 'add', 'flannel'], ['role', 'grant-permission', 'flannel', '--prefix=true', 'readwrite', '/coreos.com/network/'],
      ['user', 'add', 'flannel:flannel-pw'], ['user', 'grant-role', 'flannel', 'flannel'], ['auth', 'enable']]) etcd.etcdctl(args);
    client = new EtcdClient({ endpoints: [etcd.url], username: 'flannel', password: 'flannel-pw' });
  });
  after(async () => {
    client.close();
    await etcd.stop();
  });

  it('a watch created after the token expired re-authenticates', async () => {
    const { revision } = await client.getPrefix(PREFIX);
    assert.equal((await created(client, revision + 1n)).canceled, false, 'a watch with a fresh token works');
    await sleep(2500); // > --auth-token-ttl (1 s) + etcd's 1 s expiry tick, with no unary call in between
    const resumed = await created(client, revision + 1n);
    assert.equal(resumed.canceled, false, `refused: ${resumed.cancelReason}`);
  });
});
