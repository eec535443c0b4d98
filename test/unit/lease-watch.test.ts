/**
 * The lease stream over MemoryRegistry when the store misbehaves: a broken connection resumes (events only),
 * a wiped store is re-listed (a snapshot), and a daemon re-asserts its lease, same subnet, after a wipe.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Daemon } from '../../src/daemon/daemon.js';
import { IFA_F_PERMANENT } from '../../src/dataplane/kernel-objects.js';
import { MemoryKernel } from '../../src/dataplane/memory-kernel.js';
import type { Lease } from '../../src/lease/lease.js';
import type { LeaseWatchResult } from '../../src/lease/lease-tracker.js';
import { Cidr, IpAddress } from '../../src/net/ip.js';
import { EtcdSubnetManager } from '../../src/subnet/etcd-subnet-manager.js';
import { watchLeaseStream } from '../../src/subnet/lease-watch.js';
import { MemoryRegistry } from '../../src/subnet/memory-registry.js';
import { silentLogger } from '../../src/support/logger.js';
import { Backoff, sleep } from '../../src/support/timing.js';

const lease = (subnet: string, ip: string): Lease => ({ subnet: Cidr.parse(subnet), attrs: { publicIP: IpAddress.parse(ip), backendType: 'host-gw' } });
const describeResult = (result: LeaseWatchResult) =>
  result.kind === 'snapshot'
    ? `snapshot [${result.leases.map((l) => l.subnet.toString()).join(' ')}]`
    : `events [${result.events.map((e) => `${e.type} ${e.type === 'added' ? e.lease.subnet : e.subnet}`).join(' ')}]`;

async function until(what: string, condition: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

describe('lease stream when the store misbehaves', () => {
  const cases: Array<[string, (registry: MemoryRegistry) => Promise<void>, string]> = [
    ['a broken connection resumes where it was', async (registry) => {
      registry.failWatches();
      await registry.createLease(lease('10.244.2.0/24', '198.18.0.12'), 60);
    }, 'events [added 10.244.2.0/24]'],
    ['a wiped store is re-listed: the snapshot lacks our lease', async (registry) => {
      registry.wipe();
      await registry.createLease(lease('10.244.2.0/24', '198.18.0.12'), 60);
    }, 'snapshot [10.244.2.0/24]'],
  ];
  for (const [name, disrupt, expected] of cases) {
    it(name, async () => {
      const registry = new MemoryRegistry();
      await registry.createLease(lease('10.244.1.0/24', '198.18.0.11'), 60);
      // History the wiped store will not reach again soon (revision 6).
      for (let round = 0; round < 2; round++) {
        await registry.createLease(lease('10.244.9.0/24', '198.18.0.19'), 60);
        await registry.deleteLease({ subnet: Cidr.parse('10.244.9.0/24') });
      }
      const controller = new AbortController();
      const results: string[] = [];
      const consumer = (async () => {
        const stream = watchLeaseStream(registry, { signal: controller.signal, logger: silentLogger(), onMalformed: () => undefined, backoff: new Backoff(1, 5) });
        for await (const result of stream) results.push(describeResult(result));
      })();
      try {
        await until('the first snapshot', () => results.length === 1);
        assert.equal(results[0], 'snapshot [10.244.1.0/24]');
        await disrupt(registry);
        await until('the next result', () => results.length === 2);
        assert.equal(results[1], expected);
      } finally {
        controller.abort();
        await registry.close();
        await consumer;
      }
    });
  }

  it('a daemon re-asserts its lease, same subnet, when the store is wiped', async () => {
    const registry = new MemoryRegistry();
    registry.setNetworkConfig('{"Network":"10.244.0.0/16","Backend":{"Type":"host-gw"}}');
    const kernel = new MemoryKernel().addLink({ index: 2, name: 'eth0', mtu: 1500, up: true }, [{ address: Cidr.parse('198.18.0.11/24'), scope: 0, flags: IFA_F_PERMANENT }]);
    const daemon = new Daemon({
      subnetManager: new EtcdSubnetManager({ registry, logger: silentLogger() }), kernel, logger: silentLogger(),
      interfaceOptions: { iface: ['eth0'], ifaceRegex: [], ifaceCanReach: '', publicIP: '', publicIPv6: '' },
      ipMasq: false, renewMarginMs: 60 * 60_000, writeSubnetFile: () => undefined, configRetryMs: 10, renewRetryMs: 10,
    });
    const controller = new AbortController();
    const running = daemon.run(controller.signal);
    try {
      await until('a lease', () => daemon.lease !== undefined);
      const subnet = daemon.lease?.subnet.toString();
      registry.wipe();
      const keys = async () => (await registry.listLeases()).leases.map((l) => l.subnet.toString());
      let current: string[] = [];
      const deadline = Date.now() + 3000;
      while (current.length === 0 && Date.now() < deadline) {
        current = await keys();
        await sleep(5);
      }
      assert.deepEqual(current, [subnet]);
    } finally {
      controller.abort();
      await running;
    }
  });
});
