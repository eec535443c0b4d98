/**
 * Daemons on MemoryRegistry + MemoryKernel facing hostile or broken surroundings (issue 7): bad peer leases,
 * our key overwritten, subnet.env writes failing, a config changed in the store, leases without expiry, and
 * backends whose devices cannot exist.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LinkOp, OpFailure } from '../../src/dataplane/kernel.js';
import { MemoryKernel } from '../../src/dataplane/memory-kernel.js';
import { type Lease, encodeLeaseAttrs, leaseKey } from '../../src/lease/lease.js';
import { Cidr } from '../../src/net/ip.js';
import { EtcdSubnetManager } from '../../src/subnet/etcd-subnet-manager.js';
import { MemoryRegistry } from '../../src/subnet/memory-registry.js';
import type { SubnetManager } from '../../src/subnet/subnet-manager.js';
import { FlannelError } from '../../src/support/errors.js';
import { silentLogger } from '../../src/support/logger.js';
import { sleep } from '../../src/support/timing.js';
import { captureLogger } from '../support/capture-logger.js';
import { DaemonHost, HOST_GW_CONFIG, VXLAN_CONFIG, until, withDaemon } from '../support/daemon-host.js';
import { kernelText } from '../support/golden.js';

const vxlanValue = (publicIP: string, mac: string, vni = 1) =>
  JSON.stringify({ PublicIP: publicIP, PublicIPv6: null, BackendType: 'vxlan', BackendData: { VNI: vni, VtepMAC: mac } });
const keyOf = (subnet: Cidr, prefixLength = subnet.prefixLength) => `${subnet.ip}-${prefixLength}`;

/** Two vxlan daemons (a: 198.18.0.11, b: 198.18.0.12) for one suite; `settle` proves a saw every earlier write. */
function vxlanPair() {
  const registry = new MemoryRegistry();
  // The daemons lease from 10.244.1–99.0/24 only, so that the fixed subnets the tests write (≥ 200) never
  // collide with theirs (they are drawn at random).
  registry.setNetworkConfig('{"Network":"10.244.0.0/16","SubnetMax":"10.244.99.0","Backend":{"Type":"vxlan"}}');
  const log = captureLogger();
  const a = new DaemonHost(registry, '198.18.0.11', { logger: log.logger });
  const b = new DaemonHost(registry, '198.18.0.12');
  before(async () => {
    a.start();
    b.start();
    await until('a routes to b', () => a.kernel.routes.size === 1 && b.kernel.routes.size === 1);
  });
  after(async () => {
    await a.stop();
    await b.stop();
  });
  const sentinels: string[] = [];
  /** Writes a good lease after the bad ones: once its route is on a, a has handled every earlier event. */
  async function settle(): Promise<void> {
    const taken = new Set([a.daemon.lease?.subnet.ip.toString(), b.daemon.lease?.subnet.ip.toString(), ...sentinels]);
    let third = 230;
    while (taken.has(`10.244.${third}.0`)) third++;
    const subnet = `10.244.${third}.0`;
    sentinels.push(subnet);
    registry.putRaw(`${subnet}-24`, vxlanValue(`198.18.1.${sentinels.length}`, `02:00:00:00:01:${(0x10 + sentinels.length).toString(16)}`));
    await until(`sentinel ${subnet} routed on a`, () => [...a.kernel.routes.values()].some((route) => route.dst.ip.toString() === subnet));
  }
  /** a's kernel state without the sentinels' entries. */
  const state = () => kernelText(a.kernel).split('\n')
    .filter((line) => !sentinels.some((subnet) => line.includes(`${subnet}/`) || line.includes(`${subnet} `)) && !/198\.18\.1\.|02:00:00:00:01:/.test(line)).join('\n');
  return { registry, log, a, b, settle, state };
}

describe('bad peer leases never reach the kernel (vxlan)', () => {
  const { registry, log, a, b, settle, state } = vxlanPair();

  it('every kind of bad lease is rejected; the healthy peer keeps its route, neighbour and FDB entry', async () => {
    const before = state();
    const own = a.daemon.lease as Lease;
    const ownMac = ([...a.kernel.links.values()].find((link) => link.name === 'flannel.1')?.mac ?? '').toString();
    const bad: Record<string, string> = {
      '10.244.0.0-16': vxlanValue('198.18.0.90', '02:00:00:00:09:01'),
      '10.99.1.0-24': vxlanValue('198.18.0.91', '02:00:00:00:09:02'),
      '10.244.200.0-25': vxlanValue('198.18.0.92', '02:00:00:00:09:03'),
      '0.0.0.0-0': vxlanValue('198.18.0.93', '02:00:00:00:09:04'),
      '10.244.201.0-24': vxlanValue('127.0.0.1', '02:00:00:00:09:05'),
      '10.244.202.0-24': vxlanValue('198.18.0.95', '02:00:00:00:09:06', 2),
      '10.244.203.0-24': vxlanValue('198.18.0.11', '02:00:00:00:09:07'),
      '10.244.204.0-24': vxlanValue('198.18.0.97', '01:00:5e:00:00:01'),
      '10.244.205.0-24': vxlanValue('198.18.0.98', ownMac),
      '10.244.206.0-24': vxlanValue('224.0.0.1', '02:00:00:00:09:0a'),
      '10.244.207.1-24': vxlanValue('198.18.0.99', '02:00:00:00:09:0b'),
      [keyOf(own.subnet, 23)]: vxlanValue('198.18.0.100', '02:00:00:00:09:0c'),
    };
    for (const [key, value] of Object.entries(bad)) registry.putRaw(key, value);
    await settle();
    assert.equal(state(), before);
    assert.deepEqual(a.daemon.lease?.subnet.toString(), own.subnet.toString(), 'our subnet kept');
    const rejections = () => log.messages('rejecting peer lease');
    assert.deepEqual(rejections().map((line) => line.key).sort(), Object.keys(bad).sort(), 'each bad lease logged once');
    assert.ok(rejections().every((line) => typeof line.field === 'string' && typeof line.value === 'string' && typeof line.reason === 'string'));
    assert.deepEqual(rejections().find((line) => line.key === '10.244.201.0-24'), { ...rejections().find((line) => line.key === '10.244.201.0-24'), field: 'PublicIP', value: '127.0.0.1' });
    assert.deepEqual(a.daemon.counters, { leasesRejected: 12, leasesRejectedNow: 12 });
    for (const [key, value] of Object.entries(bad)) registry.putRaw(key, value);
    await registry.updateLease(b.daemon.lease as Lease, 60);
    await settle();
    assert.equal(rejections().length, 12, 'rewritten bad leases and later passes log nothing more');
    assert.equal(state(), before);
  });

});

describe('a lease overlapping a peer (vxlan)', () => {
  const { registry, a, b, settle, state } = vxlanPair();

  it('a lease overlapping a peer does not steal its neighbour; deleting it leaves everything as it was', async () => {
    const before = state();
    const peer = b.daemon.lease as Lease;
    const intruder = keyOf(peer.subnet, 23);
    registry.putRaw(intruder, vxlanValue('198.18.0.101', '02:00:00:00:09:0d'));
    await settle();
    assert.equal(state(), before, 'the intruder is not programmed');
    registry.putRaw(intruder, 'x');
    await registry.deleteLease({ subnet: Cidr.of(peer.subnet.ip, 23) });
    await settle();
    assert.equal(state(), before);
  });
});

describe('our subnet key overwritten by another host', () => {
  it('keeps our subnet, writes our value back and names the other host', async () => {
    const log = captureLogger();
    await withDaemon(HOST_GW_CONFIG, { logger: log.logger }, async (a, registry) => {
      await until('ready', () => a.daemon.ready);
      const lease = a.daemon.lease as Lease;
      const env = a.subnetEnv;
      const ours = encodeLeaseAttrs(lease.attrs);
      registry.putRaw(leaseKey(lease), '{"PublicIP":"198.18.0.77","PublicIPv6":null,"BackendType":"host-gw"}');
      const valueNow = async () => (await registry.listLeases()).leases.find((entry) => leaseKey(entry) === leaseKey(lease))?.attrs;
      await until('our value restored', async () => { const attrs = await valueNow(); return attrs !== undefined && encodeLeaseAttrs(attrs) === ours; });
      await sleep(30);
      assert.equal(a.daemon.lease?.subnet.toString(), lease.subnet.toString());
      assert.equal(a.subnetEnv, env);
      assert.equal((await registry.listLeases()).leases.length, 1, 'no second subnet taken');
      assert.ok(log.lines.some((line) => line.level >= 50 && JSON.stringify(line).includes('198.18.0.77')), 'an error log names the other host');
    });
  });
});

describe('subnet.env write failures are retried', () => {
  it('becomes ready once the file can be written', async () => {
    let failures = 3;
    let written = '';
    const writeSubnetFile = (contents: string) => {
      if (failures-- > 0) throw new Error('EROFS: read-only file system');
      written = contents;
    };
    await withDaemon(HOST_GW_CONFIG, { writeSubnetFile, subnetFileRetry: { initialMs: 5, maxMs: 20 } }, async (a) => {
      await until('ready after retries', () => a.daemon.ready);
      assert.match(written, /^FLANNEL_NETWORK=10\.244\.0\.0\/16\nFLANNEL_SUBNET=/);
    });
  });
});

describe('a config changed in the store', () => {
  it('is logged once per distinct change, naming what changed', async () => {
    const log = captureLogger();
    await withDaemon(HOST_GW_CONFIG, { logger: log.logger, configCheckIntervalMs: 5 }, async (a, registry) => {
      await until('ready', () => a.daemon.ready);
      registry.setNetworkConfig('{"Network":"10.245.0.0/16","Backend":{"Type":"host-gw"}}');
      const changed = () => log.lines.filter((line) => /restart/.test(line.msg) && JSON.stringify(line).includes('10.245.0.0/16'));
      await until('change logged', () => changed().length > 0);
      await sleep(50);
      assert.equal(changed().length, 1, 'logged once');
      assert.match(JSON.stringify(changed()[0]), /Network/);
    });
  });
});

describe('a lease without expiry (Kubernetes)', () => {
  it('is never renewed', async () => {
    let renewals = 0;
    const withoutExpiry = (lease: Lease): Lease => ({ subnet: lease.subnet, ...(lease.ipv6Subnet ? { ipv6Subnet: lease.ipv6Subnet } : {}), attrs: lease.attrs });
    const noExpiry = (registry: MemoryRegistry) => {
      const inner = new EtcdSubnetManager({ registry, logger: silentLogger() });
      const subnetManager: SubnetManager = {
        name: 'no-expiry',
        getNetworkConfig: () => inner.getNetworkConfig(),
        acquireLease: async (...args) => withoutExpiry(await inner.acquireLease(...args)),
        renewLease: async (lease) => { renewals++; return withoutExpiry(await inner.renewLease(lease)); },
        watchLeases: (signal, onMalformed) => inner.watchLeases(signal, onMalformed),
        close: () => inner.close(),
      };
      return { subnetManager };
    };
    await withDaemon(HOST_GW_CONFIG, noExpiry, async (a) => {
      await until('ready', () => a.daemon.ready);
      await sleep(100);
      assert.equal(renewals, 0);
    });
  });
});

describe('ready while broken', () => {
  const refusedAtStart: Array<[string, string, RegExp]> = [
    ['a vxlan MTU above the underlay\u2019s', '{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan","MTU":9000}}', /Backend\.MTU: 9000 is above the MTU of eth0 \(1500\)/],
    ['a VNI whose device name is too long for the kernel', '{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan","VNI":16777215}}', /flannel\.16777215 \(16 characters\).*at most 15/],
  ];
  for (const [name, config, pattern] of refusedAtStart) {
    it(`${name} fails at start, naming the field and the value`, async () => {
      await withDaemon(config, {}, async (a) => {
        await Promise.race([a.finished(), until('ready', () => a.daemon.ready).catch(() => undefined)]);
        assert.equal(a.daemon.ready, false);
        assert.ok(a.failure instanceof FlannelError, String(a.failure));
        assert.match((a.failure as Error).message, pattern);
        assert.equal(a.subnetEnv, '');
      });
    });
  }

  it('stays not ready (and writes no subnet.env) while the vxlan device cannot be created', async () => {
    class RefusingKernel extends MemoryKernel {
      refuse = true;
      override async applyLinkOps(ops: readonly LinkOp[]): Promise<OpFailure<LinkOp>[]> {
        if (this.refuse) return ops.map((op) => ({ op, error: new FlannelError('EEXIST', 'A VXLAN device with the specified VNI already exists') }));
        return super.applyLinkOps(ops);
      }
    }
    const kernel = new RefusingKernel();
    const log = captureLogger();
    await withDaemon(VXLAN_CONFIG, { kernel, logger: log.logger }, async (a) => {
      await until('lease', () => a.daemon.lease !== undefined);
      await sleep(100);
      assert.equal(a.daemon.ready, false);
      assert.equal(a.subnetEnv, '');
      assert.deepEqual(log.lines.filter((line) => /devices are not in place/.test(line.msg)).map((line) => line.devices), [['flannel.1']], 'said once, naming the device');
      kernel.refuse = false;
      await until('ready once the device exists', () => a.daemon.ready, 5000);
      assert.match(a.subnetEnv, /FLANNEL_MTU=1450/);
    });
  });
});
