/**
 * Gathers a trace's facts from ports, in the order the judgement needs them: the lease table (which peer owns
 * the destination decides what else to read), the kernel's lists, the route lookup (as a packet from the source
 * entering on the source's device, when --from is given), the underlay lookup of the peer's public IP, the
 * firewall, WireGuard's peers, and the overlay probe to that peer. No I/O of its own: every read is a port the
 * command wires (netlink, the status socket, iptables-save, the raw-socket prober) or a test fakes.
 */
import type { Kernel } from '../../dataplane/kernel.js';
import type { Cidr, IpAddress } from '../../net/ip.js';
import type { FirewallView } from '../firewall-view.js';
import { type OverlayProber, probeTargetFor } from '../probe/probe-target.js';
import type { LeaseTable } from '../status-document.js';
import type { RouteQuery, RouteResolver } from './route-resolver.js';
import { type TraceFacts, type TraceWireguardPeer, leaseOwning } from './trace-facts.js';

export interface TracePorts {
  readonly kernel: Pick<Kernel, 'listLinks' | 'listAddresses' | 'listNeighbours'>;
  readonly routes: RouteResolver;
  readonly leases: () => Promise<LeaseTable>;
  /** FLANNEL_NETWORK / FLANNEL_IPV6_NETWORK of this host. */
  readonly networks: () => Promise<readonly Cidr[]>;
  readonly firewall: () => Promise<FirewallView | undefined>;
  readonly wireguardPeers?: () => Promise<readonly TraceWireguardPeer[] | undefined>;
  /** Absent: no probe (--no-probe, or not root). */
  readonly prober?: OverlayProber;
  readonly nowMs: () => number;
}

export const TRACE_PROBE_TIMEOUT_MS = 1000;

export async function gatherTraceFacts(ports: TracePorts, destination: IpAddress, source?: IpAddress): Promise<TraceFacts> {
  const leases = await ports.leases();
  const [links, addresses, neighbours, networks] = await Promise.all([ports.kernel.listLinks(), ports.kernel.listAddresses(), ports.kernel.listNeighbours(), ports.networks()]);
  let query: RouteQuery = { destination };
  if (source) {
    // A packet from a pod enters on the device that leads to the pod (the bridge): ask as if it arrived there.
    const towardsSource = await ports.routes.resolve({ destination: source });
    const local = addresses.some((address) => address.address.ip.equals(source));
    query = local || towardsSource.kind !== 'route' || towardsSource.linkIndex === undefined
      ? { destination, source }
      : { destination, source, inputLinkIndex: towardsSource.linkIndex };
  }
  const route = await ports.routes.resolve(query);
  const routeWithoutInput = route.kind === 'refused' && query.inputLinkIndex !== undefined ? await ports.routes.resolve({ destination }) : undefined;
  const owner = leaseOwning(leases, destination);
  const peer = owner && owner.state !== 'own' ? owner.lease : undefined;
  const publicIP = peer && (destination.family === 6 ? peer.attrs.publicIPv6 : peer.attrs.publicIP);
  const backendType = leases.own?.attrs.backendType ?? '';
  const vxlanLink = links.find((link) => link.kind === 'vxlan' && link.vxlan && (destination.family === 6 ? link.name.startsWith('flannel-v6.') : /^flannel\.\d+$/.test(link.name)));
  const overlayPort = backendType === 'vxlan' ? vxlanLink?.vxlan?.port ?? 8472 : backendType === '' ? 8285 : undefined;
  const [underlay, firewall, wireguardPeers] = await Promise.all([
    publicIP ? ports.routes.resolve({ destination: publicIP }) : Promise.resolve(undefined),
    ports.firewall(),
    backendType === 'wireguard' && ports.wireguardPeers ? ports.wireguardPeers() : Promise.resolve(undefined),
  ]);
  let probe: TraceFacts['probe'];
  if (ports.prober && peer && leases.own && destination.family === 4) {
    const target = probeTargetFor({
      backendType, own: leases.own,
      ...(vxlanLink?.mac ? { ownVtepMac: vxlanLink.mac } : {}),
      ...(vxlanLink?.vxlan?.vni === undefined ? {} : { vni: vxlanLink.vxlan.vni }),
      ...(overlayPort === undefined ? {} : { port: overlayPort }),
    }, peer);
    if ('skip' in target) probe = { peer: peer.subnet.toString(), result: 'error', error: target.skip };
    else [probe] = await ports.prober.probe([target], TRACE_PROBE_TIMEOUT_MS);
  }
  return {
    destination, ...(source ? { source } : {}), nowMs: ports.nowMs(), backendType, networks, leases, links, addresses, neighbours, route,
    ...(routeWithoutInput ? { routeWithoutInput } : {}),
    ...(underlay ? { underlay } : {}), ...(firewall ? { firewall } : {}), ...(overlayPort === undefined ? {} : { overlayPort }),
    ...(wireguardPeers ? { wireguardPeers } : {}), ...(probe ? { probe } : {}),
  };
}
