/** Daemon's onReady hook (systemd READY=1): once, after subnet.env is written, never when that write failed. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Daemon } from '../../src/daemon/daemon.js';
import { IFA_F_PERMANENT } from '../../src/dataplane/kernel-objects.js';
import { MemoryKernel } from '../../src/dataplane/memory-kernel.js';
import type { Lease } from '../../src/lease/lease.js';
import { Cidr } from '../../src/net/ip.js';
import { EtcdSubnetManager } from '../../src/subnet/etcd-subnet-manager.js';
import { MemoryRegistry } from '../../src/subnet/memory-registry.js';
import { silentLogger } from '../../src/support/logger.js';
import { sleep } from '../../src/support/timing.js';

async function runUntilSettled(writeSubnetFile: (contents: string) => void, onReady: (lease: Lease) => void): Promise<Daemon> {
  const registry = new MemoryRegistry();
  registry.setNetworkConfig('{"Network":"10.244.0.0/16","Backend":{"Type":"host-gw"}}');
  const kernel = new MemoryKernel().addLink({ index: 2, name: 'eth0', mtu: 1500, up: true }, [{ address: Cidr.parse('198.18.0.11/24'), scope: 0, flags: IFA_F_PERMANENT }]);
  const daemon = new Daemon({
    subnetManager: new EtcdSubnetManager({ registry, logger: silentLogger() }),
    kernel, logger: silentLogger(),
    interfaceOptions: { iface: ['eth0'], ifaceRegex: [], ifaceCanReach: '', publicIP: '', publicIPv6: '' },
    ipMasq: false, renewMarginMs: 60 * 60_000, writeSubnetFile, onReady, configRetryMs: 10,
  });
  const controller = new AbortController();
  const running = daemon.run(controller.signal);
  for (let attempt = 0; attempt < 200 && !daemon.lease; attempt++) await sleep(5);
  await sleep(50);
  controller.abort();
  await running;
  return daemon;
}

describe('Daemon onReady', () => {
  it('is called once, after subnet.env is written, with the lease', async () => {
    const events: string[] = [];
    const daemon = await runUntilSettled(
      (contents) => events.push(`write ${contents.split('\n').find((line) => line.startsWith('FLANNEL_SUBNET'))}`),
      (lease) => events.push(`ready ${lease.subnet}`),
    );
    const subnet = daemon.lease?.subnet as Cidr;
    assert.deepEqual(events, [`write FLANNEL_SUBNET=${subnet.ip.add(1n)}/24`, `ready ${subnet}`]);
  });
  it('is not called when subnet.env cannot be written', async () => {
    let ready = 0;
    const daemon = await runUntilSettled(() => {
      throw new Error('EROFS');
    }, () => ready++);
    assert.ok(daemon.lease, 'the daemon got a lease');
    assert.equal(ready, 0);
    assert.equal(daemon.ready, false);
  });
});
