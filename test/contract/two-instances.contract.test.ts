/**
 * Two flanneld reconcilers side by side on this namespace's real kernel, as upstream's functional tests run a
 * vxlan and a host-gw instance for two networks on one host: each on its own netlink socket, each with its own
 * kernel watcher (which hears the other's writes), each owning only its own network (ownership.ts). Neither
 * may delete the other's routes or devices; each repairs its own drift; stale state of a network nobody runs
 * stays.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startKernelWatcher } from '../../src/adapters/netlink/kernel-watcher.js';
import { NetlinkKernel } from '../../src/adapters/netlink/netlink-kernel.js';
import type { ExternalInterface } from '../../src/backend/backend.js';
import { createHostGwBackend } from '../../src/backend/host-gw/host-gw-backend.js';
import { createVxlanBackend } from '../../src/backend/vxlan/vxlan-backend.js';
import type { DesiredState } from '../../src/dataplane/desired-state.js';
import type { KernelEventSource } from '../../src/dataplane/kernel.js';
import { ownershipOf } from '../../src/dataplane/ownership.js';
import { Reconciler } from '../../src/dataplane/reconciler.js';
import { run } from '../../src/lab/shell.js';
import type { Lease } from '../../src/lease/lease.js';
import { Cidr, IpAddress } from '../../src/net/ip.js';
import { silentLogger } from '../../src/support/logger.js';
import { sleep } from '../../src/support/timing.js';
import { assertInContractNetns } from '../support/contract-netns.js';
import { config, lease } from '../support/fixtures.js';

assertInContractNetns();

interface Instance {
  readonly reconciler: Reconciler;
  readonly kernel: NetlinkKernel;
  watcher?: KernelEventSource;
  readonly running: Promise<void>;
}

const proto111 = () => run('ip', ['-4', 'route', 'show', 'proto', '111']).stdout.trim().split('\n').map((line) => line.trim()).sort();

async function until(what: string, condition: () => boolean, timeoutMs = 2000): Promise<number> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > timeoutMs) assert.fail(`timed out waiting for ${what}: ${proto111().join(' | ')}`);
    await sleep(10);
  }
  return Date.now() - started;
}

describe('two flanneld instances on one host (real kernel)', () => {
  const controller = new AbortController();
  const instances: Instance[] = [];
  let vni = 1;
  let hostGwPeers: Lease[] = [];
  let vxlan: Instance;
  let hostGw: Instance;

  before(async () => {
    run('ip', ['link', 'add', 'ct2a', 'type', 'veth', 'peer', 'name', 'ct2b']);
    run('ip', ['addr', 'add', '198.18.12.1/24', 'dev', 'ct2a']);
    run('ip', ['link', 'set', 'ct2a', 'up']);
    run('ip', ['link', 'set', 'ct2b', 'up']);
    // Left behind: a stale route of the host-gw network, and one of a network nobody serves now.
    run('ip', ['route', 'add', '10.12.99.0/24', 'via', '198.18.12.99', 'proto', '111']);
    run('ip', ['route', 'add', '10.13.5.0/24', 'via', '198.18.12.98', 'proto', '111']);
    const linkIndex = Number(run('cat', ['/sys/class/net/ct2a/ifindex']).stdout.trim());
    const ext: ExternalInterface = { linkIndex, name: 'ct2a', mtu: 1500, ifaceAddr: Cidr.parse('198.18.12.1/24'), extAddr: IpAddress.parse('198.18.12.1'), prefixes: [Cidr.parse('198.18.12.0/24')] };
    const vxlanPeer = (): Lease => ({ subnet: Cidr.parse('10.11.2.0/24'), attrs: { publicIP: IpAddress.parse('198.18.12.2'), backendType: 'vxlan', backendData: { VNI: vni, VtepMAC: '02:00:00:00:00:12' } } });
    const vxlanPlan = (): DesiredState => createVxlanBackend({ config: config({ Network: '10.11.0.0/16', Backend: { Type: 'vxlan', VNI: vni } }), externalInterface: ext })
      .plan(lease('10.11.1.0/24', '198.18.12.1', 'vxlan'), [vxlanPeer()]);
    const hostGwBackend = createHostGwBackend({ config: config({ Network: '10.12.0.0/16' }), externalInterface: ext });
    hostGwPeers = [lease('10.12.2.0/24', '198.18.12.2'), lease('10.12.3.0/24', '198.18.12.3')];
    const start = async (plan: () => DesiredState, network: string): Promise<Instance> => {
      const kernel = NetlinkKernel.open();
      const reconciler = new Reconciler({ kernel, plan, logger: silentLogger(), ownership: ownershipOf([Cidr.parse(network)]), resyncIntervalMs: 600_000 });
      const instance: Instance = { reconciler, kernel, running: reconciler.run(controller.signal) };
      instance.watcher = await startKernelWatcher({ ignorePortId: kernel.portId, onEvents: (events) => reconciler.observe(events), onError: (error) => assert.fail(error) });
      instances.push(instance);
      return instance;
    };
    vxlan = await start(vxlanPlan, '10.11.0.0/16');
    hostGw = await start(() => hostGwBackend.plan(lease('10.12.1.0/24', '198.18.12.1'), hostGwPeers), '10.12.0.0/16');
    await Promise.all([vxlan.reconciler.whenConverged(), hostGw.reconciler.whenConverged()]);
  });

  after(async () => {
    controller.abort();
    for (const instance of instances) {
      await instance.running;
      await instance.watcher?.stop();
      instance.kernel.close();
    }
    for (const device of ['ct2a', 'flannel.1', 'flannel.2']) run('ip', ['link', 'del', device], { allowFailure: true });
    run('ip', ['route', 'del', '10.13.5.0/24'], { allowFailure: true });
  });

  it('each programs its own network; the stale route of the host-gw network goes, the other network’s stays', () => {
    assert.deepEqual(proto111(), [
      '10.11.2.0/24 via 10.11.2.0 dev flannel.1 onlink',
      '10.12.2.0/24 via 198.18.12.2 dev ct2a',
      '10.12.3.0/24 via 198.18.12.3 dev ct2a',
      '10.13.5.0/24 via 198.18.12.98 dev ct2a',
    ]);
  });

  it('a peer leaving one and a VNI change of the other touch only their own state', async () => {
    hostGwPeers = hostGwPeers.slice(1);
    hostGw.reconciler.markDirty();
    vni = 2;
    vxlan.reconciler.markDirty();
    await Promise.all([vxlan.reconciler.whenConverged(), hostGw.reconciler.whenConverged()]);
    assert.deepEqual(proto111(), [
      '10.11.2.0/24 via 10.11.2.0 dev flannel.2 onlink',
      '10.12.3.0/24 via 198.18.12.3 dev ct2a',
      '10.13.5.0/24 via 198.18.12.98 dev ct2a',
    ]);
    assert.equal(run('ip', ['link', 'show', 'flannel.1'], { allowFailure: true }).status !== 0, true, 'flannel.1 (ours, unwanted) removed');
  });

  it('drift on one instance’s state is repaired by it alone, at once', async () => {
    const before = proto111();
    await sleep(300); // let the echoes of the previous changes come and go
    const vxlanPasses = vxlan.reconciler.lastResult;
    run('ip', ['route', 'del', '10.12.3.0/24']);
    const routeMs = await until('the host-gw route back', () => proto111().some((line) => line.startsWith('10.12.3.0/24')), 1000);
    assert.equal(vxlan.reconciler.lastResult, vxlanPasses, 'the vxlan instance had nothing to do');
    run('ip', ['link', 'del', 'flannel.2']);
    const deviceMs = await until('flannel.2 and its route back', () => proto111().includes('10.11.2.0/24 via 10.11.2.0 dev flannel.2 onlink'), 1000);
    assert.deepEqual(proto111(), before);
    // Down: the kernel flushes the device's IPv4 routes and neighbours without a notification for each.
    run('ip', ['link', 'set', 'flannel.2', 'down']);
    const downMs = await until('flannel.2 up again with its route', () =>
      proto111().includes('10.11.2.0/24 via 10.11.2.0 dev flannel.2 onlink') && run('ip', ['link', 'show', 'flannel.2']).stdout.includes(',UP'), 1000);
    assert.match(run('ip', ['neigh', 'show', 'dev', 'flannel.2']).stdout, /10\.11\.2\.0 lladdr 02:00:00:00:00:12 PERMANENT/);
    assert.deepEqual(proto111(), before);
    console.log(`repaired after (ms): host-gw route ${routeMs}, vxlan device deleted ${deviceMs}, set down ${downMs}`);
  });
});
