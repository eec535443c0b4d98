/**
 * Daemons in Kubernetes mode on MemoryKernel, over KubeSubnetManager and the fake API server's store (no HTTP):
 * annotations and the NetworkUnavailable condition, leases that are never renewed, the node's stored public IP
 * and VTEP MAC, a node without a pod CIDR, a pod CIDR outside the network, refused credentials, a refused
 * condition patch, and alloc without a node watch.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ClusterStore } from '../../src/kube-fake/cluster-store.js';
import { Cidr } from '../../src/net/ip.js';
import { kubeAnnotations } from '../../src/subnet/kube-annotations.js';
import { KubeApiError } from '../../src/subnet/kube-api.js';
import { KubeSubnetManager } from '../../src/subnet/kube-subnet-manager.js';
import { MemoryRegistry } from '../../src/subnet/memory-registry.js';
import type { DaemonDeps } from '../../src/daemon/daemon.js';
import type { Logger } from '../../src/support/logger.js';
import { silentLogger } from '../../src/support/logger.js';
import { Backoff } from '../../src/support/timing.js';
import { captureLogger } from '../support/capture-logger.js';
import { DaemonHost, HOST_GW_CONFIG, VXLAN_CONFIG, until } from '../support/daemon-host.js';
import { FakeClock } from '../support/fake-clock.js';
import { MemoryKubeApi } from '../support/memory-kube-api.js';

const P = 'flannel.alpha.coreos.com/';
const HOUR = 3600_000;
type Json = Record<string, unknown>;

interface KubeHostOptions {
  readonly config?: string;
  readonly clock?: FakeClock;
  readonly logger?: Logger;
  readonly publicIP?: string;
  readonly deps?: Omit<Partial<DaemonDeps>, 'kernel'>;
}

/** A daemon for node `name` at `ip`, counting its renewals. */
function kubeHost(api: MemoryKubeApi, name: string, ip: string, options: KubeHostOptions = {}) {
  const logger = options.logger ?? silentLogger();
  const subnetManager = new KubeSubnetManager({
    api, nodeName: name, annotations: kubeAnnotations('flannel.alpha.coreos.com'), logger,
    readNetConfig: () => Promise.resolve(options.config ?? HOST_GW_CONFIG), setNodeNetworkUnavailable: true, eventQueueDepth: 100,
    retry: { intervalMs: 10, timeoutMs: 50 }, watchBackoff: () => new Backoff(10, 50),
    ...(options.clock ? { now: () => (options.clock as FakeClock).now() } : {}),
  });
  const counter = { renewals: 0 };
  const renew = subnetManager.renewLease.bind(subnetManager);
  subnetManager.renewLease = (lease) => {
    // A keeper renewing in a loop would starve the event loop (and this test) without this brake.
    if (++counter.renewals > 10) return Promise.reject(new Error('renewing in a loop'));
    return renew(lease);
  };
  const host = new DaemonHost(new MemoryRegistry(), ip, {
    subnetManager, logger, ...(options.clock ? { clock: options.clock } : {}),
    interfaceOptions: { iface: ['eth0'], ifaceRegex: [], ifaceCanReach: '', publicIP: options.publicIP ?? '', publicIPv6: '' },
    ...options.deps,
  });
  return { host, counter };
}

function annotationsOf(store: ClusterStore, name: string): Record<string, string> {
  return ((store.getNode(name).metadata as Json).annotations ?? {}) as Record<string, string>;
}

function conditionsOf(store: ClusterStore, name: string): Json[] {
  return ((store.getNode(name).status as Json | undefined)?.conditions ?? []) as Json[];
}

async function withHosts(hosts: ReadonlyArray<{ host: DaemonHost }>, body: () => Promise<void>): Promise<void> {
  for (const { host } of hosts) host.start();
  try {
    await body();
  } finally {
    for (const { host } of hosts) await host.stop();
  }
}

describe('daemons in Kubernetes mode', () => {
  it('route to each other, publish upstream\'s annotations and condition, and never renew (two days on the clock)', async () => {
    const store = new ClusterStore({ clusterCidr: Cidr.parse('10.244.0.0/16') });
    store.createNode({ metadata: { name: 'n1' } });
    store.createNode({ metadata: { name: 'n2' } });
    const api = new MemoryKubeApi(store);
    const clock = new FakeClock();
    const a = kubeHost(api, 'n1', '198.18.0.11', { clock });
    const b = kubeHost(api, 'n2', '198.18.0.12', { clock });
    await withHosts([a, b], async () => {
      await until('both ready and routed', () => a.host.daemon.ready && b.host.daemon.ready && a.host.kernel.routes.size === 1 && b.host.kernel.routes.size === 1);
      assert.equal(a.host.daemon.lease?.subnet.toString(), '10.244.0.0/24');
      assert.match(a.host.subnetEnv, /^FLANNEL_NETWORK=10\.244\.0\.0\/16\nFLANNEL_SUBNET=10\.244\.0\.1\/24\n/);
      assert.deepEqual(annotationsOf(store, 'n1'), {
        [`${P}backend-data`]: 'null', [`${P}backend-type`]: 'host-gw', [`${P}kube-subnet-manager`]: 'true', [`${P}public-ip`]: '198.18.0.11',
      });
      await until('condition', () => conditionsOf(store, 'n2').length === 1);
      const condition = conditionsOf(store, 'n2')[0] as Json;
      assert.deepEqual({ ...condition, lastHeartbeatTime: '-', lastTransitionTime: '-' }, {
        type: 'NetworkUnavailable', status: 'False', lastHeartbeatTime: '-', lastTransitionTime: '-', reason: 'FlannelIsUp', message: 'Flannel is running on this node',
      });
      assert.match(String(condition.lastHeartbeatTime), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      const callsWhenReady = api.calls.length;
      await clock.advance(48 * HOUR);
      assert.deepEqual([a.counter.renewals, b.counter.renewals], [0, 0], 'a lease without expiry is never renewed');
      assert.deepEqual(api.calls.slice(callsWhenReady), [], 'no API call in two days of steady state');
      assert.equal(a.host.kernel.routes.size, 1);
    });
  });

  it('a node added or deleted in the API adds or removes its route; a change of its public IP moves it', async () => {
    const store = new ClusterStore({ clusterCidr: Cidr.parse('10.244.0.0/16') });
    store.createNode({ metadata: { name: 'n1' } });
    const api = new MemoryKubeApi(store);
    const a = kubeHost(api, 'n1', '198.18.0.11');
    await withHosts([a], async () => {
      await until('ready', () => a.host.daemon.ready);
      const peer = { [`${P}kube-subnet-manager`]: 'true', [`${P}backend-type`]: 'host-gw', [`${P}backend-data`]: 'null', [`${P}public-ip`]: '198.18.0.13' };
      store.createNode({ metadata: { name: 'n3', annotations: peer } });
      await until('route to n3', () => [...a.host.kernel.routes.values()].some((route) => route.gateway?.toString() === '198.18.0.13'));
      store.patchNode('n3', 'application/merge-patch+json', JSON.stringify({ metadata: { annotations: { [`${P}public-ip`]: '198.18.0.23' } } }));
      await until('route moved', () => [...a.host.kernel.routes.values()].some((route) => route.gateway?.toString() === '198.18.0.23'));
      assert.equal(a.host.kernel.routes.size, 1);
      store.deleteNode('n3');
      await until('route removed', () => a.host.kernel.routes.size === 0);
    });
  });

  it('our own Node deleted and registered again (kubelet): annotations and the NetworkUnavailable condition are published again', async () => {
    const store = new ClusterStore({ clusterCidr: Cidr.parse('10.244.0.0/16') });
    store.createNode({ metadata: { name: 'n1' } });
    const api = new MemoryKubeApi(store);
    const a = kubeHost(api, 'n1', '198.18.0.11');
    await withHosts([a], async () => {
      await until('ready with the condition', () => a.host.daemon.ready && conditionsOf(store, 'n1').length === 1);
      store.deleteNode('n1');
      store.createNode({ metadata: { name: 'n1' } });
      await until('annotations back', () => annotationsOf(store, 'n1')[`${P}public-ip`] === '198.18.0.11');
      await until('condition back', () => conditionsOf(store, 'n1').length === 1);
      const condition = conditionsOf(store, 'n1')[0] as Json;
      assert.deepEqual([condition.type, condition.status, condition.reason], ['NetworkUnavailable', 'False', 'FlannelIsUp']);
    });
  });

  it('the node\'s stored public IP replaces --public-ip; one that is not an IPv4 address is reported and ignored', async () => {
    for (const [stored, published] of [['198.18.0.99', '198.18.0.99'], ['not-an-ip', '198.18.0.50'], ['fd00::1', '198.18.0.50']] as const) {
      const store = new ClusterStore({ clusterCidr: Cidr.parse('10.244.0.0/16') });
      store.createNode({ metadata: { name: 'n1', annotations: { [`${P}node-public-ip`]: stored } } });
      const log = captureLogger();
      // vxlan: host-gw refuses a public IP other than the interface's (NAT).
      const a = kubeHost(new MemoryKubeApi(store), 'n1', '198.18.0.11', { logger: log.logger, publicIP: '198.18.0.50', config: VXLAN_CONFIG });
      await withHosts([a], async () => {
        await until('ready', () => a.host.daemon.ready);
        assert.equal(annotationsOf(store, 'n1')[`${P}public-ip`], published, stored);
        const warned = log.messages('ignoring the stored node public address: not an IP address of its family');
        assert.deepEqual(warned.map((line) => line.value), published === stored ? [] : [stored]);
      });
    }
  });

  it('a new vxlan device takes the VTEP MAC the node published before; nothing needs patching', async () => {
    const store = new ClusterStore({ clusterCidr: Cidr.parse('10.244.0.0/16') });
    const annotations = {
      [`${P}backend-data`]: '{"VNI":1,"VtepMAC":"0a:11:22:33:44:55"}', [`${P}backend-type`]: 'vxlan', [`${P}kube-subnet-manager`]: 'true', [`${P}public-ip`]: '198.18.0.11',
    };
    store.createNode({ metadata: { name: 'n1', annotations } });
    const api = new MemoryKubeApi(store);
    const a = kubeHost(api, 'n1', '198.18.0.11', { config: VXLAN_CONFIG });
    await withHosts([a], async () => {
      await until('ready', () => a.host.daemon.ready);
      const device = [...a.host.kernel.links.values()].find((link) => link.name === 'flannel.1');
      assert.equal(device?.mac?.toString(), '0a:11:22:33:44:55');
      assert.deepEqual(annotationsOf(store, 'n1'), annotations);
      assert.deepEqual(api.calls.filter((call) => call.startsWith('patchNodeStatus')).map((call) => call.includes('NetworkUnavailable')), [true], 'only the condition is patched');
    });
  });

  it('a node without a pod CIDR: a clear error, retried with backoff until the controller-manager assigns one', async () => {
    const store = new ClusterStore({ clusterCidr: Cidr.parse('10.244.0.0/16'), allocateNodeCidrs: false });
    store.createNode({ metadata: { name: 'n1' } });
    const clock = new FakeClock();
    const log = captureLogger();
    const a = kubeHost(new MemoryKubeApi(store), 'n1', '198.18.0.11', { clock, logger: log.logger });
    await withHosts([a], async () => {
      await until('first failure', () => log.messages('acquiring a lease failed; retrying').length === 1);
      assert.equal(log.messages('acquiring a lease failed; retrying')[0]?.err, 'node "n1" pod cidr not assigned');
      await clock.advance(1000);
      await until('second failure', () => log.messages('acquiring a lease failed; retrying').length === 2);
      assert.equal(a.host.daemon.ready, false);
      store.assignPodCidrs('n1');
      await clock.advance(2000);
      await until('ready', () => a.host.daemon.ready);
      assert.equal(a.host.daemon.lease?.subnet.toString(), '10.244.0.0/24');
      assert.equal(a.host.failure, undefined);
    });
  });

  it('a pod CIDR outside the network is fatal, in upstream\'s words, before anything is published', async () => {
    const store = new ClusterStore();
    store.createNode({ metadata: { name: 'n1' }, spec: { podCIDR: '10.99.0.0/24', podCIDRs: ['10.99.0.0/24'] } });
    const a = kubeHost(new MemoryKubeApi(store), 'n1', '198.18.0.11');
    a.host.start();
    await a.host.finished();
    assert.match(String((a.host.failure as Error | undefined)?.message),
      /^subnet "10\.244\.0\.0\/16" specified in the flannel net config doesn't contain "10\.99\.0\.0\/24" PodCIDR of the "n1" node$/);
    assert.deepEqual(annotationsOf(store, 'n1'), {});
  });

  it('refused credentials (401) are logged and retried, not fatal', async () => {
    const store = new ClusterStore({ clusterCidr: Cidr.parse('10.244.0.0/16') });
    store.createNode({ metadata: { name: 'n1' } });
    const api = new MemoryKubeApi(store);
    let refusals = 3;
    api.fail = () => (refusals-- > 0 ? new KubeApiError(401, 'GET /api/v1/nodes/n1: 401 Unauthorized: Unauthorized (the API server refused our credentials)') : undefined);
    const clock = new FakeClock();
    const log = captureLogger();
    const a = kubeHost(api, 'n1', '198.18.0.11', { clock, logger: log.logger });
    await withHosts([a], async () => {
      await until('first refusal', () => log.messages('cannot read the public addresses stored for this host; retrying').length === 1);
      assert.match(String(log.lines.find((line) => line.code === 'KUBE_UNAUTHORIZED')?.err), /401 Unauthorized/);
      await clock.advance(1000 + 2000 + 4000);
      await until('ready', () => a.host.daemon.ready);
      assert.equal(log.messages('cannot read the public addresses stored for this host; retrying').length, 3);
    });
  });

  it('a condition patch the server refuses is logged once; the daemon carries on routing', async () => {
    const store = new ClusterStore({ clusterCidr: Cidr.parse('10.244.0.0/16') });
    store.createNode({ metadata: { name: 'n1' } });
    store.createNode({ metadata: { name: 'n2' } });
    const api = new MemoryKubeApi(store);
    api.fail = (call, detail) => (call === 'patchNodeStatus' && detail.includes('NetworkUnavailable') ? new KubeApiError(422, 'Node "n1" is invalid') : undefined);
    const log = captureLogger();
    const a = kubeHost(api, 'n1', '198.18.0.11', { logger: log.logger });
    const b = kubeHost(api, 'n2', '198.18.0.12');
    await withHosts([a, b], async () => {
      await until('refused', () => log.messages('completing the lease failed; carrying on without it').length === 1);
      await until('routed', () => a.host.kernel.routes.size === 1);
      assert.equal(a.host.daemon.ready, true);
      assert.deepEqual(conditionsOf(store, 'n1'), []);
    });
  });

  it('peers coming and going do not wake the firewall unless the ingress filter depends on them', async () => {
    for (const overlayIngressFilter of [false, true]) {
      const store = new ClusterStore({ clusterCidr: Cidr.parse('10.244.0.0/16') });
      store.createNode({ metadata: { name: 'n1' } });
      const reads: number[] = [];
      const firewall = (mode: 'iptables' | 'nftables') => ({
        mode, read: async () => (reads.push(Date.now()), ''), write: async () => undefined, remove: async () => undefined, supportsRandomFully: async () => true,
      });
      const { host } = kubeHost(new MemoryKubeApi(store), 'n1', '198.18.0.11', {
        deps: { firewalls: { iptables: firewall('iptables'), nftables: firewall('nftables') }, overlayIngressFilter, firewallResyncMs: 60_000 },
      });
      await withHosts([{ host }], async () => {
        await until('ready', () => host.daemon.ready);
        await until('first snapshot handled', () => host.kernel.routes.size === 0 && reads.length > 0);
        await new Promise((resolve) => setTimeout(resolve, 50));
        const before = reads.length;
        for (let index = 3; index < 8; index++) {
          const annotations = { [`${P}kube-subnet-manager`]: 'true', [`${P}backend-type`]: 'host-gw', [`${P}backend-data`]: 'null', [`${P}public-ip`]: `198.18.0.${index}` };
          store.createNode({ metadata: { name: `n${index}`, annotations } });
          await until(`route to n${index}`, () => host.kernel.routes.size === index - 2);
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
        if (overlayIngressFilter) assert.ok(reads.length > before, 'the filter follows peers');
        else assert.equal(reads.length, before, 'no firewall pass for peer events');
      });
    }
  });

  it('alloc: our lease only, no node list or watch', async () => {
    const store = new ClusterStore({ clusterCidr: Cidr.parse('10.244.0.0/16') });
    store.createNode({ metadata: { name: 'n1' } });
    const api = new MemoryKubeApi(store);
    const a = kubeHost(api, 'n1', '198.18.0.11', { config: '{"Network":"10.244.0.0/16","Backend":{"Type":"alloc"}}' });
    await withHosts([a], async () => {
      await until('ready', () => a.host.daemon.ready);
      assert.deepEqual(api.calls.filter((call) => /^(listNodes|watchNodes)/.test(call)), []);
    });
  });
});
