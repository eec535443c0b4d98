/**
 * The ipip backend on the real kernel (inside the contract namespace): the reconciler creates flannel.ipip
 * through our netlink layer as `ip -d link` reports upstream's device (ipip, local = interface address, remote
 * any, MTU − 20), puts our /32 on it and one `via <public ip> dev flannel.ipip onlink` route per peer, and
 * repairs a route and the device deleted by hand. Runs only where the kernel has ipip; elsewhere it says so
 * plainly and skips (MemoryKernel covers the same plan in test/unit/ipip-backend.component.test.ts).
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { NetlinkKernel } from '../../src/adapters/netlink/netlink-kernel.js';
import { createIpipBackend } from '../../src/backend/ipip/ipip-backend.js';
import { ownershipOf } from '../../src/dataplane/ownership.js';
import { Reconciler } from '../../src/dataplane/reconciler.js';
import { run } from '../../src/lab/shell.js';
import { Cidr, IpAddress } from '../../src/net/ip.js';
import { silentLogger } from '../../src/support/logger.js';
import { assertInContractNetns } from '../support/contract-netns.js';
import { config, lease } from '../support/fixtures.js';

assertInContractNetns();

/** Why this kernel cannot create an ipip device, or undefined when it can. */
function ipipUnavailable(): string | undefined {
  const probe = run('ip', ['link', 'add', 'ctipprobe', 'type', 'ipip', 'local', '198.18.13.99'], { allowFailure: true });
  if (probe.status === 0) {
    run('ip', ['link', 'del', 'ctipprobe']);
    return undefined;
  }
  return probe.stderr.trim() || `ip link add … type ipip failed (${probe.status})`;
}

describe('ipip backend on the real kernel', () => {
  after(() => {
    for (const link of ['flannel.ipip', 'ct3a']) run('ip', ['link', 'del', link], { allowFailure: true });
  });

  it('creates flannel.ipip, our /32 and onlink routes per peer; repairs a deleted route and device', async (t) => {
    const unavailable = ipipUnavailable();
    if (unavailable) {
      const reason = `CANNOT RUN: this kernel has no ipip tunnel support ("${unavailable}"); the ipip backend was not tested on a real kernel here`;
      console.log(reason);
      t.skip(reason);
      return;
    }
    run('ip', ['link', 'add', 'ct3a', 'type', 'veth', 'peer', 'name', 'ct3b']);
    run('ip', ['addr', 'add', '198.18.13.1/24', 'dev', 'ct3a']);
    run('ip', ['link', 'set', 'ct3a', 'up']);
    run('ip', ['link', 'set', 'ct3b', 'up']);
    const kernel = NetlinkKernel.open();
    try {
      const links = await kernel.listLinks();
      const uplink = links.find((link) => link.name === 'ct3a');
      assert.ok(uplink);
      const backend = createIpipBackend({
        config: config({ Backend: { Type: 'ipip' } }), links,
        externalInterface: {
          linkIndex: uplink.index, name: 'ct3a', mtu: 1500, ifaceAddr: Cidr.parse('198.18.13.1/24'), extAddr: IpAddress.parse('198.18.13.1'),
          prefixes: [Cidr.parse('198.18.13.0/24')],
        },
      });
      const own = lease('10.244.1.0/24', '198.18.13.1', 'ipip');
      const peers = [lease('10.244.2.0/24', '198.18.13.2', 'ipip'), lease('10.244.3.0/24', '192.0.2.3', 'ipip')];
      const reconciler = new Reconciler({ kernel, logger: silentLogger(), ownership: ownershipOf([Cidr.parse('10.244.0.0/16')]), plan: () => backend.plan(own, peers) });
      const converge = async () => {
        reconciler.requestResync();
        const result = await reconciler.reconcileOnce();
        assert.equal(result.failed, 0, result.failures.join('; '));
      };
      const routes = () => run('ip', ['-4', 'route', 'show', 'proto', '111']).stdout.trim().split('\n').map((line) => line.trim()).sort();
      const expectedRoutes = ['10.244.2.0/24 via 198.18.13.2 dev flannel.ipip onlink', '10.244.3.0/24 via 192.0.2.3 dev flannel.ipip onlink'];

      await converge();
      const device = run('ip', ['-d', 'link', 'show', 'flannel.ipip']).stdout;
      assert.match(device, /mtu 1480 /);
      assert.match(device, /ipip (ipip )?remote any local 198\.18\.13\.1 /);
      assert.match(run('ip', ['-4', 'addr', 'show', 'dev', 'flannel.ipip']).stdout, /inet 10\.244\.1\.0\/32 /);
      assert.deepEqual(routes(), expectedRoutes);

      run('ip', ['route', 'del', '10.244.2.0/24']);
      await converge();
      assert.deepEqual(routes(), expectedRoutes, 'deleted route restored');
      run('ip', ['link', 'del', 'flannel.ipip']);
      await converge();
      assert.deepEqual(routes(), expectedRoutes, 'device and routes restored');
    } finally {
      kernel.close();
    }
  });
});
