/**
 * Names and addresses of a lab, pure: one underlay namespace holding bridge br0 (198.18.0.0/24), etcd at
 * 198.18.0.2, host i at 198.18.0.(10+i), one pod per host. Every name starts with the lab's prefix so that
 * cleanup deletes exactly what the lab made.
 */
export interface LabHost {
  readonly name: string;
  readonly netns: string;
  readonly underlayIp: string;
  readonly podNetns: string;
  readonly healthzPort: number;
}

export interface LabLayout {
  readonly prefix: string;
  readonly underlayNetns: string;
  readonly etcdNetns: string;
  readonly etcdIp: string;
  readonly underlayPrefixLength: number;
  readonly hosts: readonly LabHost[];
}

export function labLayout(prefix: string, hostCount: number): LabLayout {
  if (!/^[a-z][a-z0-9]{1,7}$/.test(prefix)) throw new Error(`lab prefix must be 2-8 lower-case letters/digits, got ${JSON.stringify(prefix)}`);
  if (!Number.isInteger(hostCount) || hostCount < 1 || hostCount > 200) throw new Error(`host count must be 1..200, got ${hostCount}`);
  const hosts = Array.from({ length: hostCount }, (_, index) => {
    const name = `h${index + 1}`;
    return {
      name,
      netns: `${prefix}-${name}`,
      underlayIp: `198.18.0.${11 + index}`,
      podNetns: `${prefix}-${name}-p1`,
      healthzPort: 8471,
    };
  });
  return {
    prefix,
    underlayNetns: `${prefix}-ul`,
    etcdNetns: `${prefix}-etcd`,
    etcdIp: '198.18.0.2',
    underlayPrefixLength: 24,
    hosts,
  };
}

/** Every namespace the lab may have created, pods first (deleted in this order). */
export function labNamespaces(layout: LabLayout): string[] {
  return [
    ...layout.hosts.map((host) => host.podNetns),
    ...layout.hosts.map((host) => host.netns),
    layout.etcdNetns,
    layout.underlayNetns,
  ];
}
