/**
 * The ipip backend in daemons on MemoryRegistry + MemoryKernel: flannel.ipip (local = interface address, any
 * remote, MTU − 20) with our /32, one onlink route per peer through its public IP (DirectRouting: on the
 * interface for on-link peers), a device with a stale local address re-created, and upstream's refusal of a
 * `flannel.ipip` that is not an ipip device.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { IFA_F_PERMANENT } from '../../src/dataplane/kernel-objects.js';
import { MemoryKernel } from '../../src/dataplane/memory-kernel.js';
import { Cidr, IpAddress } from '../../src/net/ip.js';
import { MemoryRegistry } from '../../src/subnet/memory-registry.js';
import { DaemonHost, until } from '../support/daemon-host.js';
import { kernelText } from '../support/golden.js';

const config = (backend: Record<string, unknown> = {}) => JSON.stringify({ Network: '10.244.0.0/16', Backend: { Type: 'ipip', ...backend } });

/** Our devices, addresses and routes (not eth0's own). */
function ours(host: DaemonHost): string[] {
  return kernelText(host.kernel).split('\n').filter((line) => /flannel|proto|onlink/.test(line));
}

describe('ipip backend (daemons on MemoryKernel)', () => {
  for (const directRouting of [false, true]) {
    it(`flannel.ipip, our /32 and a route per peer${directRouting ? ' (DirectRouting: on-link peers via eth0)' : ''}`, async () => {
      const registry = new MemoryRegistry();
      registry.setNetworkConfig(config(directRouting ? { DirectRouting: true } : {}));
      registry.putRaw('10.244.201.0-24', '{"PublicIP":"192.0.2.21","BackendType":"ipip"}');
      const a = new DaemonHost(registry, '198.18.0.11', { resyncIntervalMs: 20 }).start();
      const b = new DaemonHost(registry, '198.18.0.12', { resyncIntervalMs: 20 }).start();
      try {
        await until('both ready', () => a.daemon.ready && b.daemon.ready);
        const subnetA = a.daemon.lease!.subnet;
        const subnetB = b.daemon.lease!.subnet;
        await until('a routes to b', () => kernelText(a.kernel).includes(`route ${subnetB}`));
        assert.deepEqual(ours(a), [
          `addr ${subnetA.ip}/32 dev flannel.ipip`,
          'link flannel.ipip ipip local 198.18.0.11 dev #undefined mtu 1480 up',
          `route ${subnetB} via 198.18.0.12 dev ${directRouting ? 'eth0' : 'flannel.ipip'} onlink`,
          'route 10.244.201.0/24 via 192.0.2.21 dev flannel.ipip onlink',
        ].sort());
        assert.match(a.subnetEnv, /FLANNEL_MTU=1480/);
      } finally {
        await a.stop();
        await b.stop();
      }
    });
  }

  it('an ipip device with another local address is re-created', async () => {
    const registry = new MemoryRegistry();
    registry.setNetworkConfig(config());
    const kernel = new MemoryKernel().addLink({ index: 9, name: 'flannel.ipip', mtu: 1480, up: true, kind: 'ipip', ipip: { local: IpAddress.parse('198.18.0.99') } });
    const host = new DaemonHost(registry, '198.18.0.11', { kernel }).start();
    try {
      await until('ready', () => host.daemon.ready);
      const link = [...host.kernel.links.values()].find((candidate) => candidate.name === 'flannel.ipip');
      assert.deepEqual([link?.index !== 9, link?.ipip?.local?.toString()], [true, '198.18.0.11']);
    } finally {
      await host.stop();
    }
  });

  it('a flannel.ipip that is not an ipip device is left alone and flanneld refuses to start, as upstream', async () => {
    const registry = new MemoryRegistry();
    registry.setNetworkConfig(config());
    const kernel = new MemoryKernel().addLink({ index: 9, name: 'flannel.ipip', mtu: 1500, up: true, kind: 'veth' });
    const host = new DaemonHost(registry, '198.18.0.11', { kernel }).start();
    await host.finished();
    assert.equal((host.failure as Error | undefined)?.message, "flannel.ipip isn't an ipip mode device, please remove device and try again (it is a veth device)");
    assert.equal([...host.kernel.links.values()].find((link) => link.name === 'flannel.ipip')?.kind, 'veth');
  });

  it('IPv6 is refused at start: ipip carries IPv4 only', async () => {
    const registry = new MemoryRegistry();
    registry.setNetworkConfig(JSON.stringify({ Network: '10.244.0.0/16', EnableIPv6: true, IPv6Network: 'fd00:10:244::/56', Backend: { Type: 'ipip' } }));
    const host = new DaemonHost(registry, '198.18.0.11');
    host.kernel.addresses.push({ linkIndex: 2, address: Cidr.parse('fd00:198::11/64'), scope: 0, flags: IFA_F_PERMANENT });
    host.start();
    await host.finished();
    assert.match(String((host.failure as Error | undefined)?.message), /ipip carries IPv4 only/);
  });
});
