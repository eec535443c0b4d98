/**
 * Golden tables on MemoryKernel for every device kind: what the reconciler creates (vxlan is covered in
 * vxlan.test.ts; here ipip and kernel wireguard), what it waits for (a data path's TUN, wireguard-go), and what
 * it does with a link of the right name but the wrong identity.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DesiredState } from '../../src/dataplane/desired-state.js';
import { type Device, incompatibilities, inPlaceChange, isFlannelDevice } from '../../src/dataplane/devices.js';
import { FLANNEL_ROUTE_PROTOCOL, MAIN_TABLE, type Link, type Route } from '../../src/dataplane/kernel-objects.js';
import type { MemoryKernel } from '../../src/dataplane/memory-kernel.js';
import { Cidr, IpAddress } from '../../src/net/ip.js';
import { MacAddress } from '../../src/net/mac.js';
import { kernelText } from '../support/golden.js';
import { hostKernel, settle, withReconciler } from '../support/reconcile.js';

const NETWORK = Cidr.parse('10.244.0.0/16');

/** A plan with one device, our /32 on it, and `routes` (device named, not indexed). */
function planOn(device: Device, routes: Route[]): DesiredState {
  return { devices: [device], addresses: [{ linkName: device.name, address: Cidr.parse('10.244.1.0/32') }], groups: [{ routes, neighbours: [] }], warnings: [] };
}
const networkRoute = (linkName: string): Route => ({ dst: NETWORK, linkName, table: MAIN_TABLE, protocol: FLANNEL_ROUTE_PROTOCOL, type: 'unicast', onlink: false });
const peerRoute = (linkName: string): Route => ({
  dst: Cidr.parse('10.244.2.0/24'), gateway: IpAddress.parse('198.18.0.12'), linkName, table: MAIN_TABLE, protocol: FLANNEL_ROUTE_PROTOCOL, type: 'unicast', onlink: true,
});
/** What a data path does: opens its TUN (the kernel makes it, down, MTU 1500). */
const dataPathOpens = (kernel: MemoryKernel, name: string, index: number) => kernel.addLink({ index, name, mtu: 1500, up: false, kind: 'tun', tun: { type: 'tun' } });

describe('devices the reconciler creates', () => {
  const cases: Array<[string, Device, Route, string[]]> = [
    ['ipip', { kind: 'ipip', name: 'flannel.ipip', mtu: 1480, local: IpAddress.parse('198.18.0.11'), underlayIndex: 2 }, peerRoute('flannel.ipip'), [
      'link flannel.ipip ipip local 198.18.0.11 dev eth0 mtu 1480 up',
      'route 10.244.2.0/24 via 198.18.0.12 dev flannel.ipip onlink',
    ]],
    ['kernel wireguard', { kind: 'wireguard', implementation: 'kernel', name: 'flannel-wg', mtu: 1420 }, networkRoute('flannel-wg'), [
      'link flannel-wg wireguard mtu 1420 up',
      'route 10.244.0.0/16 dev flannel-wg',
    ]],
  ];
  for (const [kind, device, route, lines] of cases) {
    it(`${kind}: created, addressed, routed; a deleted one comes back with everything`, async () => {
      const kernel = hostKernel();
      await withReconciler(kernel, () => planOn(device, [route]), async (reconciler, rig) => {
        await reconciler.whenConverged();
        const golden = ['addr 10.244.1.0/32 dev ' + device.name, 'addr 198.18.0.11/24 dev eth0', 'link eth0 mtu 1500', ...lines].sort().join('\n');
        assert.equal(kernelText(kernel), golden);
        kernel.deleteLinkByHand(device.name);
        await settle(reconciler, rig);
        assert.equal(kernelText(kernel), golden);
      });
    });
  }
});

describe('devices a data path creates', () => {
  const cases: Array<[string, Device]> = [
    ['udp TUN', { kind: 'tun', name: 'flannel0', mtu: 1472 }],
    ['wireguard-go', { kind: 'wireguard', implementation: 'userspace', name: 'flannel-wg', mtu: 1420 }],
  ];
  for (const [kind, device] of cases) {
    it(`${kind}: waited for, never created; once there its MTU, up flag, address and route are ours; re-created after loss`, async () => {
      const kernel = hostKernel();
      const notInPlace: string[][] = [];
      await withReconciler(kernel, () => planOn(device, [networkRoute(device.name)]), async (reconciler, rig) => {
        const waiting = await reconciler.whenConverged();
        assert.deepEqual([waiting.failed, waiting.changed], [0, 0], 'waiting is neither a failure nor work');
        assert.deepEqual(notInPlace.at(-1), [device.name], 'the daemon is told it is not in place');
        assert.equal(kernelText(kernel), 'addr 198.18.0.11/24 dev eth0\nlink eth0 mtu 1500', 'nothing created in its place');
        dataPathOpens(kernel, device.name, 40);
        await settle(reconciler, rig);
        const golden = [
          `addr 10.244.1.0/32 dev ${device.name}`, 'addr 198.18.0.11/24 dev eth0', 'link eth0 mtu 1500',
          `link ${device.name} tun mtu ${device.mtu} up`, `route 10.244.0.0/16 dev ${device.name}`,
        ].join('\n');
        assert.equal(kernelText(kernel), golden);
        assert.deepEqual(notInPlace.at(-1), []);
        kernel.deleteLinkByHand(device.name); // the data path's descriptor closed
        await settle(reconciler, rig);
        assert.deepEqual(notInPlace.at(-1), [device.name]);
        dataPathOpens(kernel, device.name, 41); // opened again: a new index, nothing on it
        await settle(reconciler, rig);
        assert.equal(kernelText(kernel), golden);
      }, 60_000, { onDeviceState: (names) => notInPlace.push([...names]) });
    });
  }
});

describe('device identity and in-place settings', () => {
  const link = (extra: Partial<Link>): Link => ({ index: 9, name: 'x', mtu: 1480, up: true, ...extra });
  const ipip: Device = { kind: 'ipip', name: 'flannel.ipip', mtu: 1480, local: IpAddress.parse('198.18.0.11'), underlayIndex: 2 };
  const tun: Device = { kind: 'tun', name: 'flannel0', mtu: 1472 };
  const cases: Array<[string, Device, Link, string[]]> = [
    ['ipip as wanted', ipip, link({ kind: 'ipip', ipip: { local: IpAddress.parse('198.18.0.11'), underlayIndex: 2 } }), []],
    ['ipip with a fixed remote', ipip, link({ kind: 'ipip', ipip: { local: IpAddress.parse('198.18.0.11'), remote: IpAddress.parse('198.18.0.99'), underlayIndex: 2 } }), ['remote 198.18.0.99 (want any)']],
    ['ipip with another local', ipip, link({ kind: 'ipip', ipip: { local: IpAddress.parse('198.18.0.12'), underlayIndex: 2 } }), ['local 198.18.0.12 (want 198.18.0.11)']],
    ['a vxlan link where ipip is wanted', ipip, link({ kind: 'vxlan', vxlan: { gbp: false } }), ['type vxlan (want ipip)']],
    ['a TAP where a TUN is wanted', tun, link({ kind: 'tun', tun: { type: 'tap' } }), ['a TAP device (want TUN)']],
    ['userspace wireguard is a TUN', { kind: 'wireguard', implementation: 'userspace', name: 'flannel-wg', mtu: 1420 }, link({ kind: 'tun' }), []],
    ['kernel wireguard is not', { kind: 'wireguard', implementation: 'kernel', name: 'flannel-wg', mtu: 1420 }, link({ kind: 'tun' }), ['type tun (want wireguard)']],
  ];
  for (const [name, device, existing, expected] of cases) {
    it(name, () => assert.deepEqual(incompatibilities(device, existing), expected));
  }
  it('MTU and up are fixed in place for every kind; MAC only where the kind has one', () => {
    assert.deepEqual(inPlaceChange(tun, link({ kind: 'tun', mtu: 1500, up: false })), { mtu: 1472, up: true });
    assert.equal(inPlaceChange(tun, link({ kind: 'tun', mtu: 1472, mac: MacAddress.parse('02:00:00:00:00:01') })), undefined);
    const vxlan: Device = { kind: 'vxlan', name: 'flannel.1', vni: 1, port: 8472, learning: false, gbp: false, mtu: 1450, mac: MacAddress.parse('02:00:00:00:00:02') };
    assert.deepEqual(inPlaceChange(vxlan, link({ kind: 'vxlan', mtu: 1450, mac: MacAddress.parse('02:00:00:00:00:01') })), { mac: MacAddress.parse('02:00:00:00:00:02'), up: true });
  });
  it('flannel-ts device names and kinds', () => {
    const names: Array<[string, string, boolean]> = [
      ['flannel.1', 'vxlan', true], ['flannel-v6.4096', 'vxlan', true], ['flannel.1', 'bridge', false], ['flannel0', 'tun', true],
      ['flannel0', 'vxlan', false], ['flannel-wg', 'wireguard', true], ['flannel-wg-v6', 'tun', true], ['flannel.ipip', 'ipip', true],
      ['cni0', 'bridge', false], ['flannel.x', 'vxlan', false], ['eth0', 'veth', false],
    ];
    for (const [name, kind, expected] of names) assert.equal(isFlannelDevice({ name, kind }), expected, `${name} ${kind}`);
  });
  it('an incompatible link is recreated (reconciler kinds) or removed and waited for (data-path kinds)', async () => {
    const kernel = hostKernel();
    kernel.addLink({ index: 30, name: 'flannel.ipip', mtu: 1480, up: true, kind: 'ipip', ipip: { local: IpAddress.parse('198.18.0.11'), remote: IpAddress.parse('198.18.0.99'), underlayIndex: 2 } });
    kernel.addLink({ index: 31, name: 'flannel0', mtu: 1500, up: true, kind: 'tun', tun: { type: 'tap' } });
    const plan: DesiredState = { devices: [ipip, tun], addresses: [], groups: [], warnings: [] };
    await withReconciler(kernel, () => plan, async (reconciler) => {
      await reconciler.whenConverged();
      const after = [...kernel.links.values()].map((l) => `${l.name}#${l.index} ${l.kind ?? ''} ${l.ipip?.remote ?? ''}`.trim()).sort();
      assert.deepEqual(after, ['eth0#2', 'flannel.ipip#100 ipip']);
    });
  });
});
