/** LeaseKeeper on a fake clock: when it renews, retries, re-acquires and re-asserts, and that it never spins. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LeaseKeeper } from '../../src/daemon/lease-keeper.js';
import { type Lease, type LeaseAttrs, leaseKey } from '../../src/lease/lease.js';
import type { SubnetPair } from '../../src/lease/subnet-key.js';
import { Cidr, IpAddress } from '../../src/net/ip.js';
import { FlannelError } from '../../src/support/errors.js';
import { captureLogger } from '../support/capture-logger.js';
import { FakeClock, settle } from '../support/fake-clock.js';
import { config } from '../support/fixtures.js';

const HOUR = 3600_000;
const attrs: LeaseAttrs = { publicIP: IpAddress.parse('198.18.0.11'), backendType: 'host-gw' };

/** A subnet manager whose leases last `ttlMs` on the fake clock (undefined: never expire); failures on demand. */
class FakeSubnetManager {
  readonly calls: string[] = [];
  failures = 0;
  nextSubnet = '10.244.7.0/24';
  constructor(private readonly clock: FakeClock, private readonly ttlMs: number | null) {}
  private issue(subnet: Cidr): Lease {
    return { subnet, attrs, ...(this.ttlMs === null ? {} : { expiresAtMs: this.clock.now() + this.ttlMs }) };
  }
  private failMaybe(what: string): void {
    this.calls.push(what);
    if (this.failures > 0) {
      this.failures--;
      throw new FlannelError('ETCD_UNAVAILABLE', 'etcd unavailable', { retryable: true });
    }
  }
  async acquireLease(_config: unknown, _attrs: LeaseAttrs, prefer?: Partial<SubnetPair>): Promise<Lease> {
    this.failMaybe(`acquire ${prefer?.subnet ?? '-'}`);
    return this.issue(prefer?.subnet ?? Cidr.parse(this.nextSubnet));
  }
  async renewLease(lease: Lease): Promise<Lease> {
    this.failMaybe(`renew ${lease.subnet}`);
    return this.issue(lease.subnet);
  }
}

type Setup = ReturnType<typeof setUp>;

function setUp(options: { ttlMs?: number | null; renewMarginMs?: number } = {}) {
  const clock = new FakeClock();
  const subnetManager = new FakeSubnetManager(clock, options.ttlMs === undefined ? 24 * HOUR : options.ttlMs);
  const log = captureLogger();
  const changes: string[] = [];
  const keeper = new LeaseKeeper({
    subnetManager, config: config(), attrs, logger: log.logger, clock, renewMarginMs: options.renewMarginMs ?? HOUR, renewRetryMs: 60_000,
    onSubnetChange: (lease, previous) => changes.push(`${previous.subnet} → ${lease.subnet}`),
  });
  return { clock, subnetManager, log, keeper, changes };
}

/** Acquires and runs a keeper for the length of `body`, stopping it afterwards, also on failure. */
async function withKeeper(options: Parameters<typeof setUp>[0], body: (setup: Setup) => Promise<void>): Promise<void> {
  const setup = setUp(options);
  const controller = new AbortController();
  await setup.keeper.acquire(controller.signal);
  const running = setup.keeper.run(controller.signal);
  await settle();
  try {
    await body(setup);
  } finally {
    controller.abort();
    await running;
  }
}

describe('LeaseKeeper', () => {
  it('renews renewMarginMs before expiry, and again a lease later', async () => {
    await withKeeper({}, async ({ clock, subnetManager, keeper }) => {
      const first = keeper.lease?.expiresAtMs as number;
      await clock.advance(23 * HOUR - 1);
      assert.deepEqual(subnetManager.calls, ['acquire -'], 'not a moment early');
      await clock.advance(1);
      assert.deepEqual(subnetManager.calls, ['acquire -', 'renew 10.244.7.0/24']);
      assert.equal(keeper.lease?.expiresAtMs, first + 23 * HOUR);
      await clock.advance(23 * HOUR);
      assert.equal(subnetManager.calls.length, 3);
    });
  });

  it('a lease that never expires is never renewed, and the keeper sleeps instead of spinning', async () => {
    await withKeeper({ ttlMs: null }, async ({ clock, subnetManager, keeper }) => {
      await clock.advance(365 * 24 * HOUR, 10);
      assert.deepEqual(subnetManager.calls, ['acquire -']);
      assert.equal(keeper.lease?.expiresAtMs, undefined);
      assert.equal(clock.pending, 1, 'one sleep, waiting for an incident');
    });
  });

  it('retries a failed renewal after renewRetryMs', async () => {
    await withKeeper({}, async ({ clock, subnetManager, log }) => {
      subnetManager.failures = 2;
      await clock.advance(23 * HOUR);
      assert.equal(subnetManager.calls.length, 2);
      await clock.advance(59_999);
      assert.equal(subnetManager.calls.length, 2, 'waits a minute');
      await clock.advance(1);
      assert.equal(subnetManager.calls.length, 3);
      await clock.advance(60_000);
      assert.deepEqual(subnetManager.calls.slice(1), ['renew 10.244.7.0/24', 'renew 10.244.7.0/24', 'renew 10.244.7.0/24']);
      assert.equal(log.messages('error renewing lease; trying again').length, 2);
      assert.equal(log.messages('lease renewed').length, 1);
    });
  });

  it('re-acquires a lost lease at once, same subnet preferred, retrying a failed acquisition with backoff', async () => {
    await withKeeper({}, async ({ clock, subnetManager, keeper, changes }) => {
      subnetManager.failures = 1;
      keeper.lost();
      await settle();
      assert.deepEqual(subnetManager.calls, ['acquire -', 'acquire 10.244.7.0/24']);
      await clock.advance(1000);
      assert.deepEqual(subnetManager.calls, ['acquire -', 'acquire 10.244.7.0/24', 'acquire 10.244.7.0/24']);
      assert.equal(keeper.lease?.subnet.toString(), '10.244.7.0/24');
      assert.deepEqual(changes, []);
    });
  });

  it('reports a re-acquisition that produced another subnet', async () => {
    await withKeeper({}, async ({ subnetManager, keeper, changes }) => {
      subnetManager.acquireLease = async () => ({ subnet: Cidr.parse('10.244.9.0/24'), attrs });
      keeper.lost();
      await settle();
      assert.deepEqual(changes, ['10.244.7.0/24 → 10.244.9.0/24']);
      assert.equal(keeper.lease && leaseKey(keeper.lease), '10.244.9.0-24');
    });
  });

  it('our key overwritten while our lease is valid: our value is written back, the other host named in an error', async () => {
    await withKeeper({}, async ({ subnetManager, keeper, log }) => {
      const foreign: Lease = { subnet: Cidr.parse('10.244.7.0/24'), attrs: { publicIP: IpAddress.parse('198.18.0.77'), backendType: 'host-gw' } };
      keeper.overwritten(foreign);
      await settle();
      assert.deepEqual(subnetManager.calls, ['acquire -', 'renew 10.244.7.0/24']);
      const conflict = log.lines.find((line) => line.level === 50);
      assert.match(conflict?.msg ?? '', /CONFLICT/);
      assert.equal(conflict?.otherPublicIP, '198.18.0.77');
      assert.equal(keeper.lease?.subnet.toString(), '10.244.7.0/24');
    });
  });

  it('a key that keeps being overwritten is re-asserted with backoff', async () => {
    await withKeeper({}, async ({ clock, subnetManager, keeper }) => {
      const foreign: Lease = { subnet: Cidr.parse('10.244.7.0/24'), attrs: { publicIP: IpAddress.parse('198.18.0.77'), backendType: 'host-gw' } };
      const renewals = () => subnetManager.calls.filter((call) => call.startsWith('renew')).length;
      keeper.overwritten(foreign);
      await settle();
      assert.equal(renewals(), 1, 'the first at once');
      keeper.overwritten(foreign);
      await clock.advance(999);
      assert.equal(renewals(), 1);
      await clock.advance(1);
      assert.equal(renewals(), 2, 'the second after 1 s');
      keeper.overwritten(foreign);
      await clock.advance(1999);
      assert.equal(renewals(), 2);
      await clock.advance(1);
      assert.equal(renewals(), 3, 'the third after 2 s');
    });
  });

  it('our key overwritten after our lease expired: the other host may hold it; we acquire again', async () => {
    await withKeeper({ renewMarginMs: 0 }, async ({ clock, subnetManager, keeper }) => {
      subnetManager.failures = 1;
      await clock.advance(24 * HOUR);
      assert.deepEqual(subnetManager.calls, ['acquire -', 'renew 10.244.7.0/24'], 'the renewal at expiry failed');
      subnetManager.nextSubnet = '10.244.8.0/24';
      subnetManager.acquireLease = async () => ({ subnet: Cidr.parse('10.244.8.0/24'), attrs, expiresAtMs: clock.now() + 24 * HOUR });
      keeper.overwritten({ subnet: Cidr.parse('10.244.7.0/24'), attrs: { publicIP: IpAddress.parse('198.18.0.77'), backendType: 'host-gw' } });
      await settle();
      assert.equal(keeper.lease?.subnet.toString(), '10.244.8.0/24');
    });
  });
});
