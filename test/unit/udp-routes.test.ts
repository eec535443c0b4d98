import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DatapathCounters } from '../../src/backend/udp/datapath-counters.js';
import { Batch, Counter } from '../../src/backend/udp/datapath-counters.js';
import { PeerRoutes, formatAddress } from '../../src/backend/udp/peer-routes.js';
import { UdpRouteTable, prefixMask } from '../../src/backend/udp/route-table.js';
import { Cidr, IpAddress } from '../../src/net/ip.js';

const ip = (text: string) => Number(IpAddress.parse(text).value);
const hop = (address: string, port = 8285) => ({ address: ip(address), port });

describe('udp route table', () => {
  const table = () => {
    const routes = new UdpRouteTable();
    routes.set(ip('10.244.2.0'), 24, hop('198.18.0.2'));
    routes.set(ip('10.244.3.0'), 24, hop('198.18.0.3'));
    return routes;
  };
  const lookups = [
    { name: 'a destination inside a peer subnet', destination: '10.244.2.77', expected: '198.18.0.2' },
    { name: 'the subnet address itself', destination: '10.244.3.0', expected: '198.18.0.3' },
    { name: 'the broadcast address of the subnet', destination: '10.244.3.255', expected: '198.18.0.3' },
    { name: 'a subnet nobody holds', destination: '10.244.4.1', expected: undefined },
    { name: 'outside the network', destination: '192.168.2.1', expected: undefined },
  ];
  for (const { name, destination, expected } of lookups) {
    it(`looks up ${name}`, () => assert.equal(table().lookup(ip(destination))?.address, expected === undefined ? undefined : ip(expected)));
  }

  it('ignores host bits of the network, as upstream masks them', () => {
    const routes = new UdpRouteTable();
    routes.set(ip('10.244.5.9'), 24, hop('198.18.0.5'));
    assert.equal(routes.lookup(ip('10.244.5.200'))?.address, ip('198.18.0.5'));
    assert.equal(routes.delete(ip('10.244.5.0'), 24), true);
    assert.equal(routes.size, 0);
  });

  it('replaces a route in place and moves the source filter with it', () => {
    const routes = table();
    routes.set(ip('10.244.2.0'), 24, hop('198.18.0.9', 9000));
    assert.deepEqual(routes.lookup(ip('10.244.2.1')), hop('198.18.0.9', 9000));
    assert.equal(routes.size, 2);
    assert.equal(routes.isPeerSource(ip('198.18.0.2')), false);
    assert.equal(routes.isPeerSource(ip('198.18.0.9')), true);
  });

  it('keeps a source while any of its routes remains', () => {
    const routes = new UdpRouteTable();
    routes.set(ip('10.244.2.0'), 24, hop('198.18.0.2'));
    routes.set(ip('10.244.7.0'), 24, hop('198.18.0.2'));
    routes.delete(ip('10.244.2.0'), 24);
    assert.equal(routes.isPeerSource(ip('198.18.0.2')), true);
    routes.delete(ip('10.244.7.0'), 24);
    assert.equal(routes.isPeerSource(ip('198.18.0.2')), false);
    assert.equal(routes.delete(ip('10.244.7.0'), 24), false);
  });

  it('prefers the longest prefix when lengths are mixed, and handles /0 and /32', () => {
    const routes = new UdpRouteTable();
    routes.set(0, 0, hop('198.18.0.1'));
    routes.set(ip('10.244.0.0'), 16, hop('198.18.0.16'));
    routes.set(ip('10.244.2.0'), 24, hop('198.18.0.24'));
    routes.set(ip('10.244.2.7'), 32, hop('198.18.0.32'));
    assert.equal(routes.lookup(ip('10.244.2.7'))?.address, ip('198.18.0.32'));
    assert.equal(routes.lookup(ip('10.244.2.8'))?.address, ip('198.18.0.24'));
    assert.equal(routes.lookup(ip('10.244.9.8'))?.address, ip('198.18.0.16'));
    assert.equal(routes.lookup(ip('8.8.8.8'))?.address, ip('198.18.0.1'));
    routes.delete(ip('10.244.2.0'), 24);
    assert.equal(routes.lookup(ip('10.244.2.8'))?.address, ip('198.18.0.16'));
  });

  const masks = [[0, 0], [1, 0x80000000], [16, 0xffff0000], [24, 0xffffff00], [32, 0xffffffff]] as const;
  for (const [length, mask] of masks) it(`mask of /${length}`, () => assert.equal(prefixMask(length), mask));

  it('answers from 5,000 peers without scanning them', () => {
    const routes = new UdpRouteTable();
    for (let index = 0; index < 5000; index++) routes.set(ip('10.0.0.0') + index * 256, 24, { address: ip('198.19.0.0') + index, port: 8285 });
    assert.equal(routes.lookup(ip('10.0.0.0') + 4321 * 256 + 9)?.address, ip('198.19.0.0') + 4321);
    assert.equal(routes.isPeerSource(ip('198.19.0.0') + 4999), true);
    assert.equal(routes.isPeerSource(ip('198.19.0.0') + 5000), false);
  });
});

describe('peer routes (what crosses to the worker)', () => {
  const peer = (subnet: string, publicIp: string, port?: number) => ({ subnet: Cidr.parse(subnet), publicIp: IpAddress.parse(publicIp), ...(port ? { port } : {}) });

  it('sends only the difference, with upstream\'s rule that a peer is reached on our own port', () => {
    const routes = new PeerRoutes(8285);
    const first = routes.replace([peer('10.244.2.0/24', '198.18.0.2'), peer('10.244.3.0/24', '198.18.0.3')]);
    assert.deepEqual(first.changes.set.map((entry) => [formatAddress(entry.network), entry.prefixLength, formatAddress(entry.address), entry.port]), [
      ['10.244.2.0', 24, '198.18.0.2', 8285], ['10.244.3.0', 24, '198.18.0.3', 8285],
    ]);
    assert.deepEqual(routes.replace([peer('10.244.2.0/24', '198.18.0.2'), peer('10.244.3.0/24', '198.18.0.3')]).changes, { set: [], remove: [] });
    const moved = routes.replace([peer('10.244.3.0/24', '198.18.0.33'), peer('10.244.4.0/24', '198.18.0.4', 9999)]);
    assert.deepEqual(moved.changes.set.map((entry) => [formatAddress(entry.address), entry.port]), [['198.18.0.33', 8285], ['198.18.0.4', 9999]]);
    assert.deepEqual(moved.changes.remove.map((entry) => formatAddress(entry.network)), ['10.244.2.0']);
    assert.equal(routes.all().set.length, 2);
  });

  it('leaves out bad peers with a reason and applies the rest', () => {
    const routes = new PeerRoutes(8285);
    const update = routes.replace([
      peer('fd00:10:244:2::/64', 'fd00::2'),
      peer('10.244.5.0/24', 'fd00::5'),
      peer('10.244.6.0/24', '198.18.0.6', 70000),
      peer('10.244.7.0/24', '198.18.0.7'),
      peer('10.244.7.0/24', '198.18.0.77'),
      peer('10.244.8.1/24', '198.18.0.8'),
    ]);
    assert.equal(update.problems.length, 4, update.problems.join('\n'));
    assert.match(update.problems.join('\n'), /fd00:10:244:2::\/64 is not IPv4/);
    assert.match(update.problems.join('\n'), /public IP fd00::5, not IPv4/);
    assert.match(update.problems.join('\n'), /port 70000/);
    assert.match(update.problems.join('\n'), /claimed by two peers; keeping the first \(198\.18\.0\.7\)/);
    assert.deepEqual(update.changes.set.map((entry) => formatAddress(entry.network)), ['10.244.7.0', '10.244.8.0']);
  });
});

describe('data path counters', () => {
  it('counts into shared memory another thread can read, and buckets batch sizes by powers of two', () => {
    const writer = new DatapathCounters();
    const reader = new DatapathCounters(writer.values.buffer as SharedArrayBuffer);
    writer.add(Counter.tunPacketsRead, 64);
    writer.add(Counter.dropUnknownSource);
    for (const size of [1, 2, 3, 4, 64, 200, 0]) writer.recordBatch(Batch.udpSend, size);
    const snapshot = reader.snapshot();
    assert.equal(snapshot.counters.tunPacketsRead, 64);
    assert.equal(snapshot.counters.dropUnknownSource, 1);
    assert.deepEqual(snapshot.batches.udpSend, [1, 2, 1, 0, 0, 0, 1, 1]);
    assert.deepEqual(snapshot.batches.tunRead, [0, 0, 0, 0, 0, 0, 0, 0]);
  });
});
