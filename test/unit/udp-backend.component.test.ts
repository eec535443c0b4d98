/**
 * The udp backend in a daemon on MemoryRegistry + MemoryKernel, with a forwarder double that "opens" its TUN on
 * the MemoryKernel as the kernel does (down, MTU 1500): the reconciler gives flannel0 our /32, MTU − 28, the
 * up flag and the Network route; the lease reads as upstream's; the forwarder hears the udp peers (a vxlan
 * host's lease is rejected); a device deleted and opened again gets everything back.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RunningUdpForwarder, UdpForwarderOptions, UdpForwarderPort } from '../../src/backend/data-path-ports.js';
import type { MemoryKernel } from '../../src/dataplane/memory-kernel.js';
import { MemoryRegistry } from '../../src/subnet/memory-registry.js';
import { DaemonHost, until } from '../support/daemon-host.js';
import { kernelText } from '../support/golden.js';

const UDP_CONFIG = '{"Network":"10.244.0.0/16","Backend":{"Type":"udp"}}';

class KernelForwarder implements UdpForwarderPort {
  peers: string[] = [];
  options: UdpForwarderOptions | undefined;
  index = 60;
  constructor(private readonly kernel: () => MemoryKernel) {}

  async start(options: UdpForwarderOptions): Promise<RunningUdpForwarder> {
    this.options = options;
    this.open(false);
    return {
      setPeers: (peers) => {
        this.peers = peers.map((peer) => `${peer.subnet}@${peer.publicIp}`).sort();
        return [];
      },
      counters: () => ({ udpPacketsReceived: 3 }),
      stop: async () => this.kernel().deleteLinkByHand(this.options?.tunName as string),
    };
  }

  /** As the worker does: a new TUN, down, MTU 1500, then the event. */
  open(reopened: boolean): void {
    const options = this.options as UdpForwarderOptions;
    this.index++;
    this.kernel().addLink({ index: this.index, name: options.tunName, mtu: 1500, up: false, kind: 'tun', tun: { type: 'tun' } });
    options.onDevice({ name: options.tunName, index: this.index, reopened });
  }
}

describe('udp backend in a daemon', () => {
  it('programs flannel0 like upstream, feeds the udp peers to the forwarder, and restores a device opened again', async () => {
    const registry = new MemoryRegistry();
    registry.setNetworkConfig(UDP_CONFIG);
    let host: DaemonHost | undefined;
    const forwarder = new KernelForwarder(() => (host as DaemonHost).kernel);
    host = new DaemonHost(registry, '198.18.0.11', { dataPathAdapters: { udpForwarder: forwarder } }).start();
    let peerHost: DaemonHost | undefined;
    const peer: DaemonHost = new DaemonHost(registry, '198.18.0.12', { dataPathAdapters: { udpForwarder: new KernelForwarder(() => (peerHost as DaemonHost).kernel) } });
    peerHost = peer.start();
    registry.putRaw('/coreos.com/network/subnets/10.244.200.0-24', '{"PublicIP":"198.18.0.20","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"02:00:00:00:00:01"}}');
    try {
      await until('ready', () => host!.daemon.ready);
      const subnet = host.daemon.lease!.subnet;
      const expected = new RegExp(`addr ${subnet.ip}/32 dev flannel0[\\s\\S]*link flannel0 tun mtu 1472 up[\\s\\S]*route 10\\.244\\.0\\.0/16 dev flannel0`);
      await until('flannel0 configured', () => expected.test(kernelText(host!.kernel)));
      assert.match(host.subnetEnv, /^FLANNEL_NETWORK=10\.244\.0\.0\/16\nFLANNEL_SUBNET=\S+\nFLANNEL_MTU=1472\nFLANNEL_IPMASQ=false\n$/);
      const listing = await registry.listLeases();
      assert.deepEqual(listing.leases.filter((lease) => lease.subnet.equals(subnet)).map((lease) => lease.attrs.backendType), ['']);
      await until('the udp peer, not the vxlan host', () => forwarder.peers.length === 1);
      assert.deepEqual(forwarder.peers, [`${peer.daemon.lease?.subnet}@198.18.0.12`]);
      assert.equal(host.daemon.counters.leasesRejectedNow, 1, 'the vxlan lease is rejected');
      await until('counters published', () => host!.daemon.dataPathCounters.udpPacketsReceived === 3, 3000);

      host.kernel.deleteLinkByHand('flannel0');
      forwarder.open(true);
      await until('flannel0 configured again', () => expected.test(kernelText(host!.kernel)));
      assert.match(kernelText(host.kernel), /link flannel0 tun mtu 1472 up/);
    } finally {
      await host.stop();
      await peer.stop();
    }
    assert.doesNotMatch(kernelText(host.kernel), /flannel0/, 'the device went with the forwarder');
  });
});
