/**
 * The extension backend in daemons on MemoryRegistry + MemoryKernel, with a hook port double that records
 * every invocation: PreStartupCommand before the lease (its output published as BackendData), PostStartup with
 * the lease's variables, SubnetAdd / SubnetRemove per peer with its variables and stdin, fatal startup hooks.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ExtensionHookPort, ExtensionHookResult } from '../../src/backend/data-path-ports.js';
import type { HookInvocation } from '../../src/backend/extension/extension-hooks.js';
import { encodeLeaseAttrs } from '../../src/lease/lease.js';
import { MemoryRegistry } from '../../src/subnet/memory-registry.js';
import { DaemonHost, until } from '../support/daemon-host.js';

const CONFIG = JSON.stringify({
  Network: '10.244.0.0/16',
  Backend: {
    Type: 'extension', PreStartupCommand: 'describe-me $NAME', PostStartupCommand: 'setup $SUBNET',
    SubnetAddCommand: 'add $SUBNET via $PUBLIC_IP', SubnetRemoveCommand: 'del $SUBNET', ShutdownCommand: 'ignored',
  },
});

/** Records invocations; `fail` names the hook that fails. */
class RecordingHooks implements ExtensionHookPort {
  readonly calls: HookInvocation[] = [];
  constructor(readonly environment: Readonly<Record<string, string>>, private readonly fail?: string) {}

  async run(invocation: HookInvocation): Promise<ExtensionHookResult> {
    this.calls.push(invocation);
    if (invocation.hook === this.fail) return { ok: false, output: 'it broke', error: 'exit status 3' };
    return { ok: true, output: invocation.hook === 'PreStartup' ? `data of ${invocation.argv[1]}` : '' };
  }

  lines(hook: string): string[] {
    return this.calls.filter((call) => call.hook === hook).map((call) => `${call.argv.join(' ')} env=${JSON.stringify(call.env)} stdin=${JSON.stringify(call.stdin)}`);
  }
}

describe('extension backend (daemons on MemoryKernel, recording hook port)', () => {
  it('PreStartup output becomes BackendData; PostStartup, SubnetAdd and SubnetRemove run with upstream\'s variables', async () => {
    const registry = new MemoryRegistry();
    registry.setNetworkConfig(CONFIG);
    const hooksA = new RecordingHooks({ NAME: 'a' });
    const hooksB = new RecordingHooks({ NAME: 'b' });
    const a = new DaemonHost(registry, '198.18.0.11', { dataPathAdapters: { extensionHooks: hooksA } }).start();
    const b = new DaemonHost(registry, '198.18.0.12', { dataPathAdapters: { extensionHooks: hooksB } }).start();
    try {
      await until('both ready', () => a.daemon.ready && b.daemon.ready);
      const subnetA = a.daemon.lease!.subnet.toString();
      const subnetB = b.daemon.lease!.subnet.toString();
      await until('a ran SubnetAdd for b', () => hooksA.lines('SubnetAdd').length === 1);
      const leaseA = (await registry.listLeases()).leases.find((lease) => lease.subnet.toString() === subnetA)!;
      assert.equal(encodeLeaseAttrs(leaseA.attrs), '{"PublicIP":"198.18.0.11","PublicIPv6":null,"BackendType":"extension","BackendData":"data of a"}');
      assert.deepEqual(hooksA.lines('PreStartup'), ['describe-me a env={} stdin="\\n"']);
      assert.deepEqual(hooksA.lines('PostStartup'), [
        `setup ${subnetA} env=${JSON.stringify({ NETWORK: '10.244.0.0/16', SUBNET: subnetA, IPV6SUBNET: '::/0', PUBLIC_IP: '198.18.0.11', PUBLIC_IPV6: '<nil>' })} stdin="\\n"`,
      ]);
      assert.deepEqual(hooksA.lines('SubnetAdd'), [`add ${subnetB} via 198.18.0.12 env=${JSON.stringify({ SUBNET: subnetB, PUBLIC_IP: '198.18.0.12' })} stdin="data of b\\n"`]);
      assert.equal(hooksA.calls.findIndex((call) => call.hook === 'PreStartup'), 0, 'PreStartup first');
      assert.match(a.subnetEnv, /FLANNEL_MTU=1500/);

      await b.stop();
      await registry.deleteLease(b.daemon.lease!);
      await until('a ran SubnetRemove for b', () => hooksA.lines('SubnetRemove').length === 1);
      assert.deepEqual(hooksA.lines('SubnetRemove'), [`del ${subnetB} env=${JSON.stringify({ SUBNET: subnetB, PUBLIC_IP: '198.18.0.12' })} stdin="data of b\\n"`]);
      assert.equal(hooksA.lines('SubnetAdd').length, 1, 'nothing ran twice');
    } finally {
      await a.stop();
      await b.stop();
    }
  });

  for (const hook of ['PreStartup', 'PostStartup']) {
    it(`a failing ${hook}Command stops flanneld with upstream's message`, async () => {
      const registry = new MemoryRegistry();
      registry.setNetworkConfig(CONFIG);
      const host = new DaemonHost(registry, '198.18.0.11', { dataPathAdapters: { extensionHooks: new RecordingHooks({ NAME: 'a' }, hook) } }).start();
      await host.finished();
      const command = hook === 'PreStartup' ? 'describe-me $NAME' : 'setup $SUBNET';
      assert.equal((host.failure as Error | undefined)?.message, `failed to run command: ${command} Err: exit status 3 Output: it broke`);
      assert.equal((await registry.listLeases()).leases.length, hook === 'PreStartup' ? 0 : 1, 'PreStartup runs before the lease, PostStartup after');
    });
  }

  it('peers of another backend type or with a non-string BackendData are rejected, and run no hook', async () => {
    const registry = new MemoryRegistry();
    registry.setNetworkConfig(CONFIG);
    registry.putRaw('10.244.200.0-24', '{"PublicIP":"198.18.0.20","BackendType":"host-gw"}');
    registry.putRaw('10.244.201.0-24', '{"PublicIP":"198.18.0.21","BackendType":"extension","BackendData":{"not":"a string"}}');
    registry.putRaw('10.244.202.0-24', '{"PublicIP":"198.18.0.22","BackendType":"extension"}');
    const hooks = new RecordingHooks({ NAME: 'a' });
    const host = new DaemonHost(registry, '198.18.0.11', { dataPathAdapters: { extensionHooks: hooks } }).start();
    try {
      await until('SubnetAdd for the good peer', () => hooks.lines('SubnetAdd').length === 1);
      assert.deepEqual(hooks.lines('SubnetAdd'), [`add 10.244.202.0/24 via 198.18.0.22 env=${JSON.stringify({ SUBNET: '10.244.202.0/24', PUBLIC_IP: '198.18.0.22' })} stdin="\\n"`]);
      assert.equal(host.daemon.counters.leasesRejectedNow, 2);
    } finally {
      await host.stop();
    }
  });
});
