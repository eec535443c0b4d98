import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { pickFreeSubnet, planAcquire } from '../../src/lease/subnet-allocator.js';
import { Cidr, IpAddress } from '../../src/net/ip.js';
import { config, lease, seededRandom } from '../support/fixtures.js';

const me = IpAddress.parse('198.18.0.11');

describe('planAcquire', () => {
  it('reuses the lease that holds our public IP', () => {
    const plan = planAcquire({ config: config(), leases: [lease('10.244.7.0/24', '198.18.0.11')], publicIP: me, random: Math.random });
    assert.equal(plan.kind, 'reuse');
    assert.equal(plan.kind === 'reuse' && plan.lease.subnet.toString(), '10.244.7.0/24');
  });
  it('deletes our lease when it no longer fits the config, then allocates', () => {
    const plan = planAcquire({ config: config({ SubnetLen: 25 }), leases: [lease('10.244.7.0/24', '198.18.0.11')], publicIP: me, random: () => 0 });
    assert.equal(plan.kind, 'create');
    assert.equal(plan.deletes.length, 1);
  });
  it('prefers the previous subnet when free', () => {
    const plan = planAcquire({ config: config(), leases: [], publicIP: me, previous: { subnet: Cidr.parse('10.244.9.0/24') }, random: Math.random });
    assert.deepEqual(plan.kind === 'create' && [plan.reason, plan.subnets.subnet.toString()], ['previous', '10.244.9.0/24']);
  });
  it('does not take the previous subnet when someone holds it', () => {
    const plan = planAcquire({
      config: config(), leases: [lease('10.244.9.0/24', '198.18.0.12')], publicIP: me, previous: { subnet: Cidr.parse('10.244.9.0/24') }, random: () => 0,
    });
    assert.deepEqual(plan.kind === 'create' && [plan.reason, plan.subnets.subnet.toString()], ['random', '10.244.1.0/24']);
  });
  it('allocates v6 too when enabled', () => {
    const plan = planAcquire({ config: config({ EnableIPv6: true, IPv6Network: 'fd00:10:244::/56' }), leases: [], publicIP: me, random: () => 0 });
    assert.equal(plan.kind === 'create' && plan.subnets.ipv6Subnet?.toString(), 'fd00:10:244:1::/64');
  });
});

describe('pickFreeSubnet', () => {
  const min = IpAddress.parse('10.244.1.0');
  const max = IpAddress.parse('10.244.255.0');
  it('skips every used subnet, including overlapping bigger and smaller ones', () => {
    const used = [Cidr.parse('10.244.1.0/24'), Cidr.parse('10.244.2.128/25'), Cidr.parse('10.244.4.0/22')];
    const seen = new Set<string>();
    for (let index = 0; index < 400; index++) seen.add(pickFreeSubnet(min, max, 24, used, seededRandom(index), 'IPv4').toString());
    for (const bad of ['10.244.1.0/24', '10.244.2.0/24', '10.244.4.0/24', '10.244.5.0/24', '10.244.6.0/24', '10.244.7.0/24']) assert.ok(!seen.has(bad), bad);
    assert.ok(seen.has('10.244.3.0/24'));
    assert.ok(seen.size > 150, `uniform spread, saw ${seen.size}`);
  });
  it('says out of subnets when all are taken', () => {
    const used = [Cidr.parse('10.244.0.0/16')];
    assert.throws(() => pickFreeSubnet(min, max, 24, used, Math.random, 'IPv4'), /out of subnets: all 255 IPv4 subnets are leased/);
  });
  it('property: the pick is in range, aligned and overlaps nothing used', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 300 }), { maxLength: 80 }), fc.double({ min: 0, max: 0.999999, noNaN: true }), (starts, r) => {
      const used = starts.map((start) => Cidr.of(IpAddress.fromBigInt(4, min.value + BigInt(start) * 256n), 24));
      let picked: Cidr;
      try {
        picked = pickFreeSubnet(min, max, 24, used, () => r, 'IPv4');
      } catch {
        return new Set(starts.filter((s) => s <= 254)).size === 255;
      }
      return picked.ip.compare(min) >= 0 && picked.ip.compare(max) <= 0 && picked.ip.value % 256n === 0n && !used.some((u) => u.overlaps(picked));
    }));
  });
});

describe('EtcdSubnetManager acquisition', () => {
  it('retries on a lost create race with another subnet (upstream exits)', async () => {
    const { MemoryRegistry } = await import('../../src/subnet/memory-registry.js');
    const { EtcdSubnetManager } = await import('../../src/subnet/etcd-subnet-manager.js');
    const { silentLogger } = await import('../../src/support/logger.js');
    const registry = new MemoryRegistry();
    registry.setNetworkConfig('{"Network":"10.244.0.0/16","Backend":{"Type":"host-gw"}}');
    const realCreate = registry.createLease.bind(registry);
    let raced = false;
    registry.createLease = async (wanted, ttl) => {
      if (!raced) {
        raced = true;
        // Another host takes the very subnet between our listing and our create.
        await realCreate({ ...wanted, attrs: { publicIP: IpAddress.parse('198.18.0.99'), backendType: 'host-gw' } }, ttl);
      }
      return realCreate(wanted, ttl);
    };
    const manager = new EtcdSubnetManager({ registry, logger: silentLogger(), random: () => 0 });
    const leased = await manager.acquireLease(await manager.getNetworkConfig(), { publicIP: me, backendType: 'host-gw' });
    assert.ok(raced);
    assert.equal(leased.subnet.toString(), '10.244.2.0/24', 'the next free subnet after the one lost');
    assert.equal((await registry.listLeases()).leases.length, 2);
  });
});

describe('IPv6-only acquisition', () => {
  const v6only = () => config({ EnableIPv4: false, EnableIPv6: true, IPv6Network: 'fd00:10:244::/56', Network: undefined });
  const meV6 = IpAddress.parse('fd00:198::11');
  it('leases only an IPv6 subnet, keyed 0.0.0.0-0&<v6>-<len> as upstream would', async () => {
    const { makeSubnetKey } = await import('../../src/lease/subnet-key.js');
    const plan = planAcquire({ config: v6only(), leases: [], publicIP: IpAddress.parse('0.0.0.0'), publicIPv6: meV6, random: () => 0 });
    assert.equal(plan.kind, 'create');
    const subnets = plan.kind === 'create' ? plan.subnets : undefined;
    assert.equal(makeSubnetKey(subnets!.subnet, subnets!.ipv6Subnet), '0.0.0.0-0&fd00:10:244:1::-64');
  });
  it('reuses the lease holding our public IPv6 address, and avoids other IPv6-only leases', () => {
    const existing = { subnet: Cidr.parse('0.0.0.0/0'), ipv6Subnet: Cidr.parse('fd00:10:244:7::/64'), attrs: { publicIP: IpAddress.parse('0.0.0.0'), publicIPv6: meV6, backendType: 'vxlan' } };
    const reuse = planAcquire({ config: v6only(), leases: [existing], publicIP: IpAddress.parse('0.0.0.0'), publicIPv6: meV6, random: () => 0 });
    assert.equal(reuse.kind, 'reuse');
    const other = planAcquire({ config: v6only(), leases: [{ ...existing, ipv6Subnet: Cidr.parse('fd00:10:244:1::/64') }], publicIP: IpAddress.parse('0.0.0.0'), publicIPv6: IpAddress.parse('fd00:198::12'), random: () => 0 });
    assert.equal(other.kind === 'create' && other.subnets.ipv6Subnet?.toString(), 'fd00:10:244:2::/64');
  });
});
