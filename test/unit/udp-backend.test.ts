import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ExternalInterface } from '../../src/backend/backend.js';
import { backendConfigProblems, backendFactory } from '../../src/backend/backends.js';
import { createUdpBackend, freeTunName } from '../../src/backend/udp/udp-backend.js';
import { checkUdpConfig, parseUdpOptions } from '../../src/backend/udp/udp-options.js';
import { describeRoute } from '../../src/dataplane/kernel-objects.js';
import { encodeLeaseAttrs } from '../../src/lease/lease.js';
import { Cidr, IpAddress } from '../../src/net/ip.js';
import { overlayPortOf } from '../../src/traffic/ingress-rules.js';
import { config, lease } from '../support/fixtures.js';

const ext: ExternalInterface = {
  linkIndex: 2, name: 'eth0', mtu: 1500, ifaceAddr: Cidr.parse('198.18.0.11/24'), extAddr: IpAddress.parse('203.0.113.11'), prefixes: [Cidr.parse('198.18.0.0/24')],
};
const udpConfig = (backend: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) => config({ Backend: { Type: 'udp', ...backend }, ...extra });
const own = lease('10.244.1.0/24', '203.0.113.11', '');

describe('udp backend', () => {
  it('flannel0 as a TUN with MTU − 28, our /32 on it, one route for the whole Network, scope universe', () => {
    const udp = createUdpBackend({ config: udpConfig(), externalInterface: ext });
    assert.equal(udp.type, 'udp');
    assert.equal(udp.mtu, 1472);
    assert.deepEqual(udp.devices, [{ kind: 'tun', name: 'flannel0', mtu: 1472 }]);
    const plan = udp.plan(own, [lease('10.244.2.0/24', '198.18.0.12', '')]);
    const groups = [...plan.groups];
    assert.deepEqual(plan.devices, udp.devices);
    assert.deepEqual(plan.addresses.map((a) => `${a.address} dev ${a.linkName}`), ['10.244.1.0/32 dev flannel0']);
    assert.deepEqual(groups.flatMap((g) => g.routes.map(describeRoute)), ['10.244.0.0/16 dev flannel0']);
    assert.equal(groups[0]?.routes[0]?.scope, 0);
    assert.equal(groups[0]?.routes[0]?.protocol, 111);
    assert.deepEqual(plan.warnings, []);
    assert.equal([...udp.plan(own, []).groups][0], groups[0], 'peers never reach the plan: the same group every time');
    assert.equal(typeof udp.runDataPath, 'function');
  });

  it('writes the lease as upstream\u2019s udp does: PublicIP only, no BackendType', () => {
    const udp = createUdpBackend({ config: udpConfig(), externalInterface: ext });
    assert.equal(encodeLeaseAttrs(udp.leaseAttrs), '{"PublicIP":"203.0.113.11","PublicIPv6":null}');
  });

  it('names the device as the kernel resolves flannel%d: the lowest flannelN no link holds', () => {
    const cases: Array<[string[], string]> = [
      [[], 'flannel0'],
      [['eth0', 'flannel.1', 'flannel-wg'], 'flannel0'],
      [['flannel0'], 'flannel1'],
      [['flannel0', 'flannel2'], 'flannel1'],
      [['flannel0', 'flannel1', 'flannel2'], 'flannel3'],
    ];
    for (const [names, expected] of cases) assert.equal(freeTunName(names.map((name) => ({ name }))), expected, names.join(','));
    const second = createUdpBackend({ config: udpConfig(), externalInterface: ext, links: [{ index: 9, name: 'flannel0', mtu: 1472, up: true, kind: 'tun' }] });
    assert.deepEqual(second.plan(own, []).addresses.map((a) => a.linkName), ['flannel1']);
  });

  it('admits peers without a BackendType (or "udp") and rejects hosts of other backends, with the reason', () => {
    const udp = createUdpBackend({ config: udpConfig(), externalInterface: ext });
    const cases: Array<[string, string | undefined]> = [['', undefined], ['udp', undefined], ['vxlan', '"vxlan"'], ['host-gw', '"host-gw"'], ['wireguard', '"wireguard"']];
    for (const [type, rejected] of cases) {
      const problem = udp.checkPeer?.(lease('10.244.2.0/24', '198.18.0.12', type));
      assert.equal(problem?.value, rejected, type);
      if (problem) assert.match(problem.reason, /another backend/);
    }
  });

  it('Port: default 8285, case-insensitive as Go decodes it; anything but 1..65535 refused, naming the value', () => {
    assert.equal(parseUdpOptions(undefined).port, 8285);
    assert.equal(parseUdpOptions({ Type: 'udp', port: 9000 }).port, 9000);
    assert.equal(parseUdpOptions({ Port: null }).port, 8285);
    for (const bad of [0, -1, 65536, 8285.5, '8285', true]) {
      assert.deepEqual(checkUdpConfig(udpConfig({ Port: bad })), [`Backend.Port: expected an integer in 1..65535 (peers send to the Port they are configured with), got ${JSON.stringify(bad)}`]);
    }
    assert.throws(() => createUdpBackend({ config: udpConfig({ Port: 0 }), externalInterface: ext }), /Backend\.Port/);
  });

  it('refuses what cannot work: IPv6, a device MTU below 68, an interface without IPv4', () => {
    assert.deepEqual(checkUdpConfig(udpConfig({}, { EnableIPv6: true, IPv6Network: 'fd00:10:244::/56' })), [
      'Backend.Type: udp carries IPv4 only; EnableIPv6 needs another backend (vxlan, host-gw or wireguard)',
    ]);
    assert.match(checkUdpConfig(udpConfig({}, { EnableIPv4: false, EnableIPv6: true, IPv6Network: 'fd00:10:244::/56' })).join(), /an IPv6-only network needs another backend/);
    assert.deepEqual(checkUdpConfig(udpConfig(), { name: 'eth0', mtu: 95 }), ['the MTU of eth0 (95) leaves 67 for the udp device, below the kernel\'s minimum of 68 (MTU at least 96)']);
    assert.deepEqual(checkUdpConfig(udpConfig(), { name: 'eth0', mtu: 96 }), []);
    assert.throws(() => createUdpBackend({ config: udpConfig(), externalInterface: { ...ext, mtu: 95 } }), /leaves 67 for the udp device/);
    assert.throws(() => createUdpBackend({ config: udpConfig(), externalInterface: { ...ext, ifaceAddr: undefined } }), /udp: interface eth0 needs an IPv4 address/);
  });

  it('is registered: config check and flanneld accept it, and the ingress filter guards its Port', () => {
    assert.deepEqual(backendConfigProblems(udpConfig({ Port: 8286 })), []);
    assert.equal(backendFactory('UDP'), createUdpBackend);
    assert.deepEqual(backendConfigProblems(udpConfig({ Port: 'x' })), ['Backend.Port: expected an integer in 1..65535 (peers send to the Port they are configured with), got "x"']);
    assert.deepEqual([overlayPortOf(udpConfig()), overlayPortOf(udpConfig({ Port: 9000 })), overlayPortOf(config({ Backend: undefined }))], [8285, 9000, 8285]);
  });
});
