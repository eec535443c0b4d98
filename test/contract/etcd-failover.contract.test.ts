/**
 * A 3-member etcd with one member hung (SIGSTOP: the kernel still accepts TCP, nothing answers) or the leader
 * killed: requests and the lease watch move on to a healthy member and a new lease arrives while the member
 * is still down, with the client's default timeouts (the times are printed as test diagnostics).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { EtcdRegistry } from '../../src/adapters/etcd/etcd-registry.js';
import type { LeaseWatchResult } from '../../src/lease/lease-tracker.js';
import { watchLeaseStream } from '../../src/subnet/lease-watch.js';
import { silentLogger } from '../../src/support/logger.js';
import { sleep } from '../../src/support/timing.js';
import { assertInContractNetns } from '../support/contract-netns.js';
import { type EtcdServer, startEtcdCluster } from '../support/etcd-server.js';

assertInContractNetns();

const SUBNETS = '/coreos.com/network/subnets/';
const value = (ip: string) => `{"PublicIP":"${ip}","PublicIPv6":null,"BackendType":"host-gw"}`;

/** etcdctl put through `member`, retried while the cluster elects a leader. */
async function putVia(member: EtcdServer, key: string, text: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      member.etcdctl(['--command-timeout', '1s', 'put', key, text]);
      return;
    } catch (error) {
      if (attempt > 50) throw error;
      await sleep(100);
    }
  }
}

function leaderOf(members: readonly EtcdServer[]): EtcdServer {
  const statuses = members.map((member) => JSON.parse(member.etcdctl(['endpoint', 'status', '-w', 'json'])) as Array<{ Status: { header: { member_id: number }; leader: number } }>);
  const leaderId = statuses[0]?.[0]?.Status.leader;
  const index = statuses.findIndex((status) => status[0]?.Status.header.member_id === leaderId);
  assert.ok(index >= 0, 'a leader');
  return members[index] as EtcdServer;
}

describe('etcd cluster failover', () => {
  let members: EtcdServer[];
  let registry: EtcdRegistry;
  const controller = new AbortController();
  const seen: Array<{ key: string; atMs: number }> = [];
  let consumer: Promise<void>;
  before(async () => {
    members = await startEtcdCluster(3, 23850);
    registry = new EtcdRegistry({ endpoints: members.map((member) => member.url), prefix: '/coreos.com/network' });
    const stream = watchLeaseStream(registry, { signal: controller.signal, logger: silentLogger(), onMalformed: () => undefined });
    consumer = (async () => {
      for await (const result of stream as AsyncIterable<LeaseWatchResult>) {
        const leases = result.kind === 'snapshot' ? result.leases : result.events.flatMap((event) => (event.type === 'added' ? [event.lease] : []));
        for (const lease of leases) seen.push({ key: lease.subnet.toString(), atMs: Date.now() });
      }
    })();
    await putVia(members[1] as EtcdServer, `${SUBNETS}10.244.1.0-24`, value('198.18.0.11'));
    for (let waited = 0; !seen.some((entry) => entry.key === '10.244.1.0/24'); waited += 20) {
      assert.ok(waited < 5000, 'the watch works');
      await sleep(20);
    }
  });
  after(async () => {
    controller.abort();
    await consumer;
    await registry.close();
    for (const member of members) await member.stop();
  });

  async function arrival(subnet: string, sinceMs: number, limitMs: number): Promise<number> {
    while (Date.now() - sinceMs < limitMs) {
      const entry = seen.find((candidate) => candidate.key === subnet);
      if (entry) return entry.atMs - sinceMs;
      await sleep(20);
    }
    return assert.fail(`${subnet} did not arrive within ${limitMs} ms`);
  }

  it('a hung member (the one in use) is left: a listing and a new lease are served by the others', async (context) => {
    const hung = members[0] as EtcdServer;
    process.kill(hung.pid, 'SIGSTOP');
    try {
      const started = Date.now();
      await putVia(members[1] as EtcdServer, `${SUBNETS}10.244.2.0-24`, value('198.18.0.12'));
      const listing = await registry.listLeases();
      const listMs = Date.now() - started;
      assert.ok(listing.leases.some((lease) => lease.subnet.toString() === '10.244.2.0/24'));
      const eventMs = await arrival('10.244.2.0/24', started, 20_000);
      context.diagnostic(`hung member: listing served after ${listMs} ms, new lease seen after ${eventMs} ms`);
    } finally {
      process.kill(hung.pid, 'SIGCONT');
    }
  });

  it('the leader killed: a new lease arrives through the survivors', async (context) => {
    const leader = leaderOf(members);
    const survivor = members.find((member) => member !== leader) as EtcdServer;
    const started = Date.now();
    process.kill(leader.pid, 'SIGKILL');
    await putVia(survivor, `${SUBNETS}10.244.3.0-24`, value('198.18.0.13'));
    const putMs = Date.now() - started;
    const eventMs = await arrival('10.244.3.0/24', started, 20_000);
    context.diagnostic(`leader killed: put accepted after ${putMs} ms, new lease seen after ${eventMs} ms`);
  });
});
