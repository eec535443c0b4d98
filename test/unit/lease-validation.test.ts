import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ExternalInterface } from '../../src/backend/backend.js';
import { createHostGwBackend } from '../../src/backend/host-gw/host-gw-backend.js';
import { createVxlanBackend } from '../../src/backend/vxlan/vxlan-backend.js';
import type { Lease } from '../../src/lease/lease.js';
import { checkPeerLease, describeLeaseProblem } from '../../src/lease/lease-validation.js';
import { Cidr, IpAddress } from '../../src/net/ip.js';
import { config } from '../support/fixtures.js';

const v4 = config();
const dual = config({ EnableIPv6: true, IPv6Network: 'fd00:10:244::/56' });
const v6only = config({ EnableIPv4: false, Network: undefined, EnableIPv6: true, IPv6Network: 'fd00:10:244::/56' });
const kube = { ...v4, subnetLen: 0 };
const own = [IpAddress.parse('198.18.0.11'), IpAddress.parse('fd00:198::11')];

function peer(key: string, publicIP = '198.18.0.12', publicIPv6?: string): Lease {
  const [v4Part, v6Part] = key.split('&') as [string, string | undefined];
  const cidr = (text: string) => Cidr.of(IpAddress.parse(text.slice(0, text.lastIndexOf('-'))), Number(text.slice(text.lastIndexOf('-') + 1)));
  return {
    subnet: cidr(v4Part), ...(v6Part ? { ipv6Subnet: cidr(v6Part) } : {}),
    attrs: { publicIP: IpAddress.parse(publicIP), backendType: 'host-gw', ...(publicIPv6 ? { publicIPv6: IpAddress.parse(publicIPv6) } : {}) },
  };
}

describe('peer lease validation against the network config', () => {
  const cases: Array<[string, typeof v4, Lease, string | undefined]> = [
    ['a good lease', v4, peer('10.244.5.0-24'), undefined],
    ['the whole network', v4, peer('10.244.0.0-16'), 'subnet 10.244.0.0/16: prefix /16 differs from SubnetLen 24'],
    ['a subnet outside Network', v4, peer('10.99.1.0-24'), 'subnet 10.99.1.0/24: not inside Network 10.244.0.0/16'],
    ['a /25', v4, peer('10.244.200.0-25'), 'subnet 10.244.200.0/25: prefix /25 differs from SubnetLen 24'],
    ['a /23', v4, peer('10.244.4.0-23'), 'subnet 10.244.4.0/23: prefix /23 differs from SubnetLen 24'],
    ['0.0.0.0-0', v4, peer('0.0.0.0-0'), 'subnet 0.0.0.0/0: no IPv4 subnet, but Network 10.244.0.0/16 is IPv4'],
    ['host bits set', v4, peer('10.244.5.1-24'), 'subnet 10.244.5.1/24: not a network address (host bits set; 10.244.5.0/24 would be)'],
    ['PublicIP loopback', v4, peer('10.244.5.0-24', '127.0.0.1'), 'PublicIP 127.0.0.1: a loopback address, not a usable unicast address'],
    ['PublicIP unspecified', v4, peer('10.244.5.0-24', '0.0.0.0'), 'PublicIP 0.0.0.0: an unspecified ("this network") address, not a usable unicast address'],
    ['PublicIP multicast', v4, peer('10.244.5.0-24', '239.1.1.1'), 'PublicIP 239.1.1.1: a multicast address, not a usable unicast address'],
    ['PublicIP broadcast', v4, peer('10.244.5.0-24', '255.255.255.255'), 'PublicIP 255.255.255.255: the broadcast address, not a usable unicast address'],
    ['our public IP', v4, peer('10.244.5.0-24', '198.18.0.11'), 'PublicIP 198.18.0.11: our own public address: this lease is not a peer'],
    ['Kubernetes mode: any prefix inside Network', kube, peer('10.244.4.0-23'), undefined],
    ['dual stack: a good lease', dual, peer('10.244.5.0-24&fd00:10:244:5::-64', '198.18.0.12', 'fd00:198::12'), undefined],
    ['dual stack: an IPv4-only peer', dual, peer('10.244.5.0-24'), undefined],
    ['dual stack: IPv6 subnet outside IPv6Network', dual, peer('10.244.5.0-24&fd00:99::-64', '198.18.0.12', 'fd00:198::12'), 'ipv6Subnet fd00:99::/64: not inside IPv6Network fd00:10:244::/56'],
    ['dual stack: IPv6 prefix', dual, peer('10.244.5.0-24&fd00:10:244:5::-80', '198.18.0.12', 'fd00:198::12'), 'ipv6Subnet fd00:10:244:5::/80: prefix /80 differs from IPv6SubnetLen 64'],
    ['dual stack: PublicIPv6 loopback', dual, peer('10.244.5.0-24&fd00:10:244:5::-64', '198.18.0.12', '::1'), 'PublicIPv6 ::1: the loopback address, not a usable unicast address'],
    ['dual stack: PublicIPv6 multicast', dual, peer('10.244.5.0-24&fd00:10:244:5::-64', '198.18.0.12', 'ff02::1'), 'PublicIPv6 ff02::1: a multicast address, not a usable unicast address'],
    ['dual stack: our PublicIPv6', dual, peer('10.244.5.0-24&fd00:10:244:5::-64', '198.18.0.12', 'fd00:198::11'), 'PublicIPv6 fd00:198::11: our own public address: this lease is not a peer'],
    ['dual stack: PublicIPv6 in IPv4 form', dual, peer('10.244.5.0-24&fd00:10:244:5::-64', '198.18.0.12', '198.18.0.13'), 'PublicIPv6 198.18.0.13: not an IPv6 address'],
    ['IPv6 only: a good lease', v6only, peer('0.0.0.0-0&fd00:10:244:5::-64', '0.0.0.0', 'fd00:198::12'), undefined],
    ['IPv6 only: no IPv6 subnet', v6only, peer('10.244.5.0-24'), 'ipv6Subnet (none): an IPv6-only network needs an IPv6 subnet'],
    ['IPv6 only: no PublicIPv6', v6only, peer('0.0.0.0-0&fd00:10:244:5::-64', '0.0.0.0'), 'PublicIPv6 (none): no IPv6 address to reach the peer at'],
    ['IPv6 only: unspecified PublicIPv6', v6only, peer('0.0.0.0-0&fd00:10:244:5::-64', '0.0.0.0', '::'), 'PublicIPv6 ::: the unspecified address, not a usable unicast address'],
  ];
  for (const [name, networkConfig, lease, expected] of cases) {
    it(name, () => {
      const problem = checkPeerLease(lease, { config: networkConfig, ownPublicIPs: own });
      assert.equal(problem && describeLeaseProblem(problem), expected);
    });
  }
});

describe('BackendData checks per backend', () => {
  const ext: ExternalInterface = {
    linkIndex: 2, name: 'eth0', mtu: 1500, ifaceAddr: Cidr.parse('198.18.0.11/24'), extAddr: IpAddress.parse('198.18.0.11'),
    ifaceV6Addr: Cidr.parse('fd00:198::11/64'), extV6Addr: IpAddress.parse('fd00:198::11'), prefixes: [Cidr.parse('198.18.0.0/24')],
  };
  const vxlan = createVxlanBackend({ config: config({ Backend: { Type: 'vxlan', VNI: 4 }, EnableIPv6: true, IPv6Network: 'fd00:10:244::/56' }), externalInterface: ext });
  const [ourDevice] = vxlan.devices ?? [];
  const ourMac = ourDevice?.kind === 'vxlan' ? ourDevice.mac.toString() : '';
  const withData = (backendType: string, backendData?: unknown, backendV6Data?: unknown): Lease => ({
    ...peer('10.244.5.0-24&fd00:10:244:5::-64', '198.18.0.12', 'fd00:198::12'),
    attrs: { publicIP: IpAddress.parse('198.18.0.12'), publicIPv6: IpAddress.parse('fd00:198::12'), backendType,
      ...(backendData === undefined ? {} : { backendData }), ...(backendV6Data === undefined ? {} : { backendV6Data }) },
  });
  const good = { VNI: 4, VtepMAC: '02:00:00:00:00:12' };
  const goodV6 = { VNI: 4, VtepMAC: '02:00:00:00:06:12' };
  const cases: Array<[string, Lease, string | undefined]> = [
    ['a good peer', withData('vxlan', good, goodV6), undefined],
    ['keys in any case, as Go decodes them', withData('vxlan', { vni: 4, vtepmac: '02:00:00:00:00:12' }, goodV6), undefined],
    ['another backend type', withData('host-gw'), 'BackendType "host-gw": not vxlan'],
    ['no BackendData', withData('vxlan', undefined, goodV6), 'BackendData (none): expected an object with VNI and VtepMAC'],
    ['another VNI', withData('vxlan', { ...good, VNI: 1 }, goodV6), 'BackendData.VNI 1: differs from our VNI 4'],
    ['a VNI as a string', withData('vxlan', { ...good, VNI: '4' }, goodV6), 'BackendData.VNI "4": differs from our VNI 4'],
    ['not a MAC', withData('vxlan', { ...good, VtepMAC: 'zz' }, goodV6), 'BackendData.VtepMAC "zz": not a MAC address'],
    ['a multicast MAC', withData('vxlan', { ...good, VtepMAC: '01:00:5e:00:00:01' }, goodV6), 'BackendData.VtepMAC "01:00:5e:00:00:01": not a unicast MAC address'],
    ['the zero MAC', withData('vxlan', { ...good, VtepMAC: '00:00:00:00:00:00' }, goodV6), 'BackendData.VtepMAC "00:00:00:00:00:00": not a unicast MAC address'],
    ['our own MAC', withData('vxlan', { ...good, VtepMAC: ourMac }, goodV6), `BackendData.VtepMAC "${ourMac}": the VTEP MAC of our own flannel.4`],
    ['bad IPv6 data', withData('vxlan', good, { ...goodV6, VNI: 5 }), 'BackendV6Data.VNI 5: differs from our VNI 4'],
  ];
  for (const [name, lease, expected] of cases) {
    it(`vxlan: ${name}`, () => {
      const problem = vxlan.checkPeer?.(lease);
      assert.equal(problem && describeLeaseProblem(problem), expected);
    });
  }
  it('host-gw: only the backend type', () => {
    const hostGw = createHostGwBackend({ config: config(), externalInterface: ext });
    assert.equal(hostGw.checkPeer?.(withData('host-gw')), undefined);
    assert.equal(describeLeaseProblem(hostGw.checkPeer?.(withData('vxlan', good)) ?? { field: '', value: '', reason: '' }), 'BackendType "vxlan": not host-gw');
  });
});
