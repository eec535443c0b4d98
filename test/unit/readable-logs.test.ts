/**
 * The log lines an operator reads: a line per peer added, removed or changed (its subnet, public IP and what
 * changed), and the lease watch resuming after an outage (how long it was down). Pure diff table-driven; the
 * lines themselves from a daemon on MemoryRegistry and from the lease stream over a registry that fails.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PeerChanges, leaseDifferences } from '../../src/daemon/peer-changes.js';
import type { Lease } from '../../src/lease/lease.js';
import { Cidr, IpAddress } from '../../src/net/ip.js';
import { formatOutage, watchLeaseStream } from '../../src/subnet/lease-watch.js';
import { MemoryRegistry } from '../../src/subnet/memory-registry.js';
import type { Registry } from '../../src/subnet/registry.js';
import { FlannelError } from '../../src/support/errors.js';
import { Backoff } from '../../src/support/timing.js';
import { LEVEL, captureLogger } from '../support/capture-logger.js';
import { HOST_GW_CONFIG, until, withDaemon } from '../support/daemon-host.js';

const vxlan = (subnet: string, ip: string, mac: string, v6?: string): Lease => ({
  subnet: Cidr.parse(subnet),
  attrs: { publicIP: IpAddress.parse(ip), ...(v6 ? { publicIPv6: IpAddress.parse(v6) } : {}), backendType: 'vxlan', backendData: { VNI: 1, VtepMAC: mac } },
});

describe('leaseDifferences', () => {
  const base = vxlan('10.244.2.0/24', '198.18.0.12', '02:00:00:00:00:12');
  const cases: Array<[string, Lease, string[]]> = [
    ['a renewal (same attributes, new object)', { ...base, expiresAtMs: 5 }, []],
    ['a new public IP', vxlan('10.244.2.0/24', '198.18.0.22', '02:00:00:00:00:12'), ['PublicIP 198.18.0.12 → 198.18.0.22']],
    ['a new VTEP MAC', vxlan('10.244.2.0/24', '198.18.0.12', '02:00:00:00:00:99'), ['BackendData.VtepMAC 02:00:00:00:00:12 → 02:00:00:00:00:99']],
    ['an IPv6 address added', vxlan('10.244.2.0/24', '198.18.0.12', '02:00:00:00:00:12', 'fd00::12'), ['PublicIPv6 none → fd00::12']],
    ['another backend', { subnet: base.subnet, attrs: { publicIP: base.attrs.publicIP, backendType: 'host-gw' } }, ['BackendType vxlan → host-gw', 'BackendData {"VNI":1,"VtepMAC":"02:00:00:00:00:12"} → none']],
  ];
  for (const [name, after, expected] of cases) it(name, () => assert.deepEqual(leaseDifferences(base, after), expected));
});

describe('PeerChanges', () => {
  it('reports added, changed and removed peers once each', () => {
    const changes = new PeerChanges();
    const a = vxlan('10.244.2.0/24', '198.18.0.12', '02:00:00:00:00:12');
    const b = vxlan('10.244.3.0/24', '198.18.0.13', '02:00:00:00:00:13');
    const summary = (peers: Lease[]) => changes.update(peers).map((change) => `${change.kind} ${change.lease.subnet}${change.kind === 'changed' ? `: ${change.changes.join('; ')}` : ''}`);
    assert.deepEqual(summary([a, b]), ['added 10.244.2.0/24', 'added 10.244.3.0/24']);
    assert.deepEqual(summary([a, b]), []);
    assert.deepEqual(summary([{ ...a }, vxlan('10.244.3.0/24', '198.18.0.23', '02:00:00:00:00:13')]), ['changed 10.244.3.0/24: PublicIP 198.18.0.13 → 198.18.0.23']);
    assert.deepEqual(summary([a]), ['removed 10.244.3.0/24']);
  });
});

describe('a daemon logs each peer added, changed and removed', () => {
  it('with its subnet, public IP and what changed', async () => {
    const log = captureLogger();
    await withDaemon(HOST_GW_CONFIG, { logger: log.logger }, async (host, registry) => {
      await until('a lease', () => host.daemon.lease !== undefined);
      const peer = (ip: string): Lease => ({ subnet: Cidr.parse('10.244.250.0/24'), attrs: { publicIP: IpAddress.parse(ip), backendType: 'host-gw' } });
      await registry.createLease(peer('198.18.0.12'), 60);
      await until('peer added', () => log.messages('peer added').length === 1);
      await registry.updateLease(peer('198.18.0.12'), 60);
      await registry.updateLease(peer('198.18.0.22'), 60);
      await until('peer changed', () => log.messages('peer changed').length === 1);
      await registry.deleteLease(peer('198.18.0.22'));
      await until('peer removed', () => log.messages('peer removed').length === 1);
      const fields = (msg: string) => {
        const { subnet, publicIP, backend, changes, level } = log.messages(msg)[0] ?? assert.fail(`no ${msg} line`);
        return { subnet, publicIP, backend, changes, level };
      };
      assert.deepEqual(fields('peer added'), { subnet: '10.244.250.0/24', publicIP: '198.18.0.12', backend: 'host-gw', changes: undefined, level: LEVEL.info });
      assert.deepEqual(fields('peer changed'), { subnet: '10.244.250.0/24', publicIP: '198.18.0.22', backend: 'host-gw', changes: 'PublicIP 198.18.0.12 → 198.18.0.22', level: LEVEL.info });
      assert.deepEqual(fields('peer removed'), { subnet: '10.244.250.0/24', publicIP: '198.18.0.22', backend: 'host-gw', changes: undefined, level: LEVEL.info });
    });
  });
});

/** A MemoryRegistry whose watches and listings fail while `down` is set (a store that does not answer). */
function flakyRegistry(inner: MemoryRegistry): Registry & { down: boolean } {
  const unavailable = () => new FlannelError('ETCD_UNAVAILABLE', 'no etcd endpoint answered', { retryable: true });
  const registry = Object.create(inner) as Registry & { down: boolean };
  registry.down = false;
  registry.listLeases = () => (registry.down ? Promise.reject(unavailable()) : inner.listLeases());
  registry.watchLeases = (from, signal, onEstablished) => {
    if (registry.down) return (async function* () { throw unavailable(); })();
    return inner.watchLeases(from, signal, onEstablished);
  };
  return registry;
}

describe('the lease watch after an outage', () => {
  it('logs its start once, then one line when it resumes, saying how long it was down', async () => {
    const inner = new MemoryRegistry();
    const registry = flakyRegistry(inner);
    const log = captureLogger('debug');
    let nowMs = 1_000_000;
    const controller = new AbortController();
    let results = 0;
    const consumer = (async () => {
      for await (const _ of watchLeaseStream(registry, { signal: controller.signal, logger: log.logger, onMalformed: () => undefined, backoff: new Backoff(1, 5), clock: { now: () => nowMs } })) results++;
    })();
    try {
      await until('the first snapshot', () => results === 1);
      assert.deepEqual(log.messages('lease watch resumed after an outage'), [], 'no outage yet');
      registry.down = true;
      inner.failWatches();
      await until('several failed attempts', () => log.lines.filter((line) => line.msg === 'lease watch failed; resuming').length >= 3);
      assert.equal(log.lines.filter((line) => line.msg === 'lease watch failed; resuming' && line.level === LEVEL.warn).length, 1, 'the first failure at warn, the rest at debug');
      nowMs += 61_000;
      await until('a reminder', () => log.messages('lease watch still failing').length === 1);
      assert.equal(log.messages('lease watch still failing')[0]?.downFor, '1m01s');
      nowMs += 11_500;
      registry.down = false;
      await until('resumed', () => log.messages('lease watch resumed after an outage').length === 1);
      const resumed = log.messages('lease watch resumed after an outage')[0];
      assert.equal(resumed?.level, LEVEL.info);
      assert.equal(resumed?.downFor, '1m13s');
      assert.ok(Number(resumed?.failures) >= 3);
    } finally {
      controller.abort();
      await inner.close();
      await consumer;
    }
  });

  for (const [ms, text] of [[850, '850ms'], [12_340, '12.3s'], [245_000, '4m05s'], [7_380_000, '2h03m']] as const) {
    it(`formatOutage(${ms}) = ${text}`, () => assert.equal(formatOutage(ms), text));
  }
});
