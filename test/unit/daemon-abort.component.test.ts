/**
 * SIGTERM may come at any moment of start-up. For each call the daemon makes to its ports (subnet manager,
 * Kubernetes API, kernel, firewall, subnet file) on the way to ready, a daemon is aborted while that call is
 * under way, and run() must end within a second. A wait that starts after the abort (its listener added to a
 * signal that has already aborted) would never end: flanneld kept its health port for seconds after SIGTERM
 * when stopped during start-up, and a restarted one could not bind it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Daemon, type DaemonDeps } from '../../src/daemon/daemon.js';
import { MemoryKernel } from '../../src/dataplane/memory-kernel.js';
import { ClusterStore } from '../../src/kube-fake/cluster-store.js';
import { Cidr } from '../../src/net/ip.js';
import { EtcdSubnetManager } from '../../src/subnet/etcd-subnet-manager.js';
import { kubeAnnotations } from '../../src/subnet/kube-annotations.js';
import { KubeSubnetManager } from '../../src/subnet/kube-subnet-manager.js';
import { MemoryRegistry } from '../../src/subnet/memory-registry.js';
import { silentLogger } from '../../src/support/logger.js';
import { Backoff, sleep } from '../../src/support/timing.js';
import { VXLAN_CONFIG, uplinkKernel } from '../support/daemon-host.js';
import { MemoryKubeApi } from '../support/memory-kube-api.js';
import { ScriptFirewall } from '../support/script-firewall.js';

/** Counts the calls made through proxies; aborts `controller` right after call number `abortAt` has started. */
class CallCounter {
  calls = 0;
  abortedDuring: string | undefined;

  constructor(
    private readonly controller: AbortController,
    private readonly abortAt: number,
  ) {}

  /** `target` with every method counted (methods of its prototype included). */
  wrap<T extends object>(name: string, target: T): T {
    return new Proxy(target, {
      get: (object, property, receiver) => {
        const value: unknown = Reflect.get(object, property, receiver);
        if (typeof value !== 'function' || property === 'constructor') return value;
        return (...args: unknown[]) => {
          const result: unknown = (value as (...a: unknown[]) => unknown).apply(object, args);
          if (++this.calls === this.abortAt) {
            this.abortedDuring = `${name}.${String(property)}`;
            this.controller.abort();
          }
          return result;
        };
      },
    });
  }
}

type Mode = 'etcd' | 'kube';

function daemonFor(mode: Mode, counter: CallCounter): Daemon {
  const kernel = counter.wrap('kernel', uplinkKernel('198.18.0.11', new MemoryKernel()));
  const logger = silentLogger();
  let subnetManager: DaemonDeps['subnetManager'];
  if (mode === 'etcd') {
    const registry = new MemoryRegistry();
    registry.setNetworkConfig(VXLAN_CONFIG);
    subnetManager = new EtcdSubnetManager({ registry: counter.wrap('registry', registry), logger });
  } else {
    const store = new ClusterStore({ clusterCidr: Cidr.parse('10.244.0.0/16') });
    store.createNode({ metadata: { name: 'n1' } });
    subnetManager = new KubeSubnetManager({
      api: counter.wrap('api', new MemoryKubeApi(store)), nodeName: 'n1', annotations: kubeAnnotations('flannel.alpha.coreos.com'), logger,
      readNetConfig: () => Promise.resolve(VXLAN_CONFIG), setNodeNetworkUnavailable: true, eventQueueDepth: 100,
      retry: { intervalMs: 10, timeoutMs: 50 }, watchBackoff: () => new Backoff(10, 50),
    });
  }
  const firewall = counter.wrap('firewall', new ScriptFirewall());
  const subnetFile = counter.wrap('subnetFile', { write: (_contents: string) => undefined });
  return new Daemon({
    subnetManager: counter.wrap('subnetManager', subnetManager),
    kernel,
    logger,
    interfaceOptions: { iface: ['eth0'], ifaceRegex: [], ifaceCanReach: '', publicIP: '', publicIPv6: '' },
    ipMasq: true,
    firewalls: { nftables: firewall, iptables: counter.wrap('firewall', new ScriptFirewall()) },
    renewMarginMs: 60 * 60_000,
    writeSubnetFile: (contents) => subnetFile.write(contents),
    configRetryMs: 10,
    renewRetryMs: 10,
    watchKernel: async () => ({ stop: async () => undefined }),
  });
}

/** Runs a daemon aborted during call `abortAt` (0: never); how it went. */
async function runAborted(mode: Mode, abortAt: number): Promise<{ calls: number; during: string | undefined; ready: boolean; endedMs: number | undefined }> {
  const controller = new AbortController();
  const counter = new CallCounter(controller, abortAt);
  const daemon = daemonFor(mode, counter);
  let ended = false;
  const running = daemon.run(controller.signal).finally(() => (ended = true));
  // Until the abort, or until ready when it never comes (the reference run).
  for (let waited = 0; !controller.signal.aborted && !daemon.ready && waited < 3000; waited += 1) await sleep(1);
  const ready = daemon.ready;
  if (!controller.signal.aborted) controller.abort();
  const abortedAt = performance.now();
  for (let waited = 0; !ended && waited < 1000; waited += 5) await sleep(5);
  const endedMs = ended ? performance.now() - abortedAt : undefined;
  // A run() that hangs is left behind (its promise may never settle); the test reports it.
  if (ended) await running.catch(() => undefined);
  return { calls: counter.calls, during: counter.abortedDuring, ready, endedMs };
}

describe('a daemon aborted at any point of start-up', () => {
  for (const mode of ['etcd', 'kube'] as const) {
    it(`${mode} mode: run() ends within a second of an abort during each port call up to ready`, async (context) => {
      const reference = await runAborted(mode, 0);
      assert.ok(reference.ready, 'the reference daemon becomes ready');
      assert.ok(reference.calls > 20, `start-up makes a fair number of port calls (${reference.calls})`);
      const hung: string[] = [];
      for (let abortAt = 1; abortAt <= reference.calls; abortAt++) {
        const result = await runAborted(mode, abortAt);
        if (result.endedMs === undefined) hung.push(`call ${abortAt} (${result.during ?? 'none: ready first'})`);
      }
      context.diagnostic(`${reference.calls} port calls up to ready, an abort during each`);
      assert.deepEqual(hung, [], 'run() still running 1 s after an abort during these calls');
    });
  }
});
