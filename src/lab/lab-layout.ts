/**
 * Names and addresses of a lab, pure: one underlay namespace holding bridge br0, etcd at 198.18.0.2 (a
 * Kubernetes lab has the fake API server instead, in its own namespace at 198.18.0.9), host i at
 * 198.18.0.(10+i) (IPv6 fd00:198::(10+i)), one pod per host. Hosts listed in `routedHosts` sit on a second
 * underlay subnet, 198.18.1.0/24 (fd00:198:1::/64), reachable only through a router namespace (…-rt), so they
 * are not on-link for the others (DirectRouting tests). Every name starts with the lab's prefix so that
 * cleanup deletes exactly what the lab made.
 */
export interface LabHost {
  readonly name: string;
  readonly netns: string;
  readonly underlayIp: string;
  readonly underlayIpv6: string;
  /** Router address on this host's underlay subnet (routes to the other subnet go through it). */
  readonly routerIp: string;
  readonly routerIpv6: string;
  readonly routed: boolean;
  readonly podNetns: string;
  readonly healthzPort: number;
}

export interface LabLayout {
  readonly prefix: string;
  readonly underlayNetns: string;
  readonly etcdNetns: string;
  readonly routerNetns: string;
  readonly etcdIp: string;
  /** The fake Kubernetes API server's namespace and address (Kubernetes labs). */
  readonly apiNetns: string;
  readonly apiIp: string;
  readonly hosts: readonly LabHost[];
  /** A namespace on the underlay that is not part of the cluster (created on demand, for masquerade tests). */
  readonly outsideNetns: string;
  readonly outsideIp: string;
}

export function labLayout(prefix: string, hostCount: number, routedHosts: readonly number[] = []): LabLayout {
  if (!/^[a-z][a-z0-9]{1,7}$/.test(prefix)) throw new Error(`lab prefix must be 2-8 lower-case letters/digits, got ${JSON.stringify(prefix)}`);
  if (!Number.isInteger(hostCount) || hostCount < 1 || hostCount > 200) throw new Error(`host count must be 1..200, got ${hostCount}`);
  const hosts = Array.from({ length: hostCount }, (_, index) => {
    const name = `h${index + 1}`;
    const routed = routedHosts.includes(index + 1);
    const subnet = routed ? 1 : 0;
    const v6Prefix = routed ? 'fd00:198:1::' : 'fd00:198::';
    return {
      name,
      netns: `${prefix}-${name}`,
      underlayIp: `198.18.${subnet}.${11 + index}`,
      underlayIpv6: `${v6Prefix}${11 + index}`,
      routerIp: `198.18.${subnet}.1`,
      routerIpv6: `${v6Prefix}1`,
      routed,
      podNetns: `${prefix}-${name}-p1`,
      healthzPort: 8471,
    };
  });
  return {
    prefix, underlayNetns: `${prefix}-ul`, etcdNetns: `${prefix}-etcd`, routerNetns: `${prefix}-rt`, etcdIp: '198.18.0.2', hosts,
    apiNetns: `${prefix}-api`, apiIp: '198.18.0.9',
    outsideNetns: `${prefix}-out`, outsideIp: '198.18.0.250',
  };
}

/** Every namespace the lab may have created, pods first (deleted in this order). */
export function labNamespaces(layout: LabLayout): string[] {
  return [
    ...layout.hosts.map((host) => host.podNetns),
    ...layout.hosts.map((host) => host.netns),
    layout.etcdNetns,
    layout.apiNetns,
    layout.routerNetns,
    layout.outsideNetns,
    layout.underlayNetns,
  ];
}
