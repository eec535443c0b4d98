import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { traceLeaseTable } from '../../src/cmd/trace-leases.js';
import { Cidr } from '../../src/net/ip.js';
import { leaseTableFromStore } from '../../src/ops/lease-records.js';
import { MemoryRegistry } from '../../src/subnet/memory-registry.js';
import { OWN, PEER } from '../support/trace-host.js';

describe('trace: where the leases come from', () => {
  it('the store\'s leases: ours by subnet.env\'s FLANNEL_SUBNET, the rest as peers', () => {
    const table = leaseTableFromStore([PEER, OWN], Cidr.parse('10.244.1.1/24'));
    assert.equal(table.own, OWN);
    assert.deepEqual(table.admitted, [PEER]);
    assert.deepEqual(leaseTableFromStore([PEER, OWN], undefined).admitted, [PEER, OWN], 'without subnet.env every lease is a peer');
  });

  it('flanneld not answering: the store when one was named, else the error', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'trace-leases-'));
    try {
      const socket = join(directory, 'absent.sock');
      const store = new MemoryRegistry();
      await store.createLease(OWN, 60);
      await store.createLease(PEER, 60);
      store.putRaw('garbage', '{}');
      const warnings: string[] = [];
      const table = await traceLeaseTable({ socket, openStore: () => store, ownSubnet: () => Cidr.parse('10.244.1.1/24'), warn: (line) => warnings.push(line) });
      assert.equal(table.own?.subnet.toString(), '10.244.1.0/24');
      assert.deepEqual(table.admitted.map((lease) => lease.subnet.toString()), ['10.244.2.0/24']);
      assert.match(warnings[0] ?? '', /no flanneld answers on .*absent\.sock.*; reading the leases from the store instead/);
      assert.match(warnings[1] ?? '', /^ignored: garbage/);
      await assert.rejects(traceLeaseTable({ socket, ownSubnet: () => undefined, warn: () => undefined }), { code: 'STATUS_UNREACHABLE' });
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });
});
