/**
 * udp (reference §5.3): a TUN device `flannel0` (IFF_TUN|IFF_NO_PI) made by the data path, our subnet's first
 * address as /32 on it, MTU = interface MTU − 28, and one route for the whole Network through it. Peers never
 * reach the kernel: the data path (udp-data-path.ts) holds them, sending each packet read from the TUN as one
 * UDP datagram to the peer's public IP and our Port, bound on the interface address as upstream. The lease
 * carries only PublicIP — upstream's udp writes no BackendType — so udp leases read `{"PublicIP":…,"PublicIPv6":null}`.
 *
 * The device name. Upstream asks the kernel for `flannel%d`, which resolves to the lowest free `flannelN`
 * when the descriptor is opened. Our plan must name the device before it exists (the reconciler waits for
 * that name and then owns its address, MTU, up flag and route), so the factory resolves the template itself,
 * against the links present at start: the lowest `flannelN` no link holds, which is `flannel0` on any host
 * that does not run a second udp network — the name every walk-through shows, kept across restarts (a TUN
 * vanishes with its process) and across re-creation after someone deletes it.
 *
 * Peers. Upstream's udp sends to every lease, whatever its BackendType. A lease without one (udp, alloc and
 * tencent-vpc write none) may be a udp host; a lease naming another backend (vxlan, host-gw…) belongs to a
 * host that listens on no udp port, so `checkPeer` rejects it with the reason: its subnet gets ICMP net
 * unreachable at once instead of datagrams into the void. "udp" is accepted too, should a writer spell it out.
 */
import type { DesiredGroup, DesiredState } from '../../dataplane/desired-state.js';
import type { TunDevice } from '../../dataplane/devices.js';
import { FLANNEL_ROUTE_PROTOCOL, type Link, MAIN_TABLE } from '../../dataplane/kernel-objects.js';
import type { Lease, LeaseAttrs } from '../../lease/lease.js';
import type { LeaseProblem } from '../../lease/lease-validation.js';
import { Cidr } from '../../net/ip.js';
import { FlannelError, ValidationError } from '../../support/errors.js';
import type { Backend, BackendContext } from '../backend.js';
import { udpDataPath } from './udp-data-path.js';
import { UDP, UDP_OVERHEAD, checkUdpConfig, parseUdpOptions } from './udp-options.js';

export function createUdpBackend({ config, externalInterface: ext, links = [] }: BackendContext): Backend {
  const problems = checkUdpConfig(config, { name: ext.name, mtu: ext.mtu });
  if (problems.length > 0) throw new ValidationError(problems, 'udp backend config');
  const network = config.network;
  if (!network) throw new FlannelError('BACKEND_CONFIG', 'udp: the network config has no IPv4 Network');
  const bindAddress = ext.ifaceAddr?.ip;
  const publicIP = ext.extAddr;
  if (!bindAddress || bindAddress.family !== 4 || !publicIP || publicIP.family !== 4) {
    throw new FlannelError('BACKEND_CONFIG', `udp: interface ${ext.name} needs an IPv4 address (the udp backend carries IPv4 over IPv4)`);
  }
  const options = parseUdpOptions(config.backend);
  const device: TunDevice = { kind: 'tun', name: freeTunName(links), mtu: ext.mtu - UDP_OVERHEAD };
  const devices = [device];
  const leaseAttrs: LeaseAttrs = { publicIP, backendType: '' };
  // The same group object for every plan: the reconciler then never re-compares the Network route.
  const networkRoute: DesiredGroup = {
    network: true,
    neighbours: [],
    // Scope universe, as upstream's (`10.244.0.0/16 dev flannel0`, not `scope link`).
    routes: [{ dst: network.masked(), linkName: device.name, table: MAIN_TABLE, protocol: FLANNEL_ROUTE_PROTOCOL, type: 'unicast', onlink: false, scope: 0 }],
  };
  return {
    type: UDP,
    mtu: device.mtu,
    leaseAttrs,
    devices,
    options: { ...options, device: device.name },
    plan(own: Lease): DesiredState {
      return { devices, addresses: [{ linkName: device.name, address: Cidr.of(own.subnet.ip, 32) }], groups: [networkRoute], warnings: [] };
    },
    checkPeer(peer: Lease): LeaseProblem | undefined {
      const type = peer.attrs.backendType;
      if (type === '' || type === UDP) return undefined;
      return { field: 'BackendType', value: JSON.stringify(type), reason: 'a host of another backend (udp leases carry no BackendType); it listens on no udp port' };
    },
    runDataPath: udpDataPath({ tunName: device.name, bindAddress, port: options.port, mtu: device.mtu }),
  };
}

/** The lowest `flannelN` that no link holds: what the kernel makes of upstream's `flannel%d` template. */
export function freeTunName(links: readonly Pick<Link, 'name'>[]): string {
  const taken = new Set(links.map((link) => link.name));
  let number = 0;
  while (taken.has(`flannel${number}`)) number++;
  return `flannel${number}`;
}
