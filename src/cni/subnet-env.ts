/**
 * /run/flannel/subnet.env (reference §6): rendering exactly as upstream writes it, and reading it back as
 * both flanneld (previous subnet) and the CNI plugin do. Pure.
 *
 * FLANNEL_SUBNET is the first host address of the lease (10.244.1.0/24 → 10.244.1.1/24); readers mask it back.
 */
import type { NetworkConfig } from '../config/network-config.js';
import type { Lease } from '../lease/lease.js';
import { Cidr } from '../net/ip.js';
import { FlannelError } from '../support/errors.js';

export function renderSubnetEnv(config: NetworkConfig, lease: Lease, mtu: number, ipMasq: boolean): string {
  const lines: string[] = [];
  const firstHost = (cidr: Cidr) => `${cidr.ip.add(1n)}/${cidr.prefixLength}`;
  if (config.enableIPv4 && config.network) {
    lines.push(`FLANNEL_NETWORK=${config.network}`, `FLANNEL_SUBNET=${firstHost(lease.subnet)}`);
  }
  if (config.enableIPv6 && config.ipv6Network && lease.ipv6Subnet) {
    lines.push(`FLANNEL_IPV6_NETWORK=${config.ipv6Network}`, `FLANNEL_IPV6_SUBNET=${firstHost(lease.ipv6Subnet)}`);
  }
  lines.push(`FLANNEL_MTU=${mtu}`, `FLANNEL_IPMASQ=${ipMasq}`);
  return lines.join('\n') + '\n';
}

export interface SubnetEnv {
  readonly networks: readonly Cidr[];
  readonly ipv6Networks: readonly Cidr[];
  readonly subnet?: Cidr;
  readonly ipv6Subnet?: Cidr;
  readonly mtu?: number;
  readonly ipMasq?: boolean;
}

/**
 * The KEY=VALUE lines of an env file as written by flanneld and read by a shell: `export `, surrounding quotes
 * and `#` comment lines tolerated (as godotenv); the last assignment of a key wins.
 */
export function envAssignments(text: string): Map<string, string> {
  const values = new Map<string, string>();
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#')) continue;
    const equals = line.indexOf('=');
    if (equals < 0) continue;
    const key = line.slice(0, equals).replace(/^export\s+/, '').trim();
    const value = line.slice(equals + 1).trim().replace(/^(["'])(.*)\1$/, '$2');
    values.set(key, value);
  }
  return values;
}

/**
 * Parses subnet.env (envAssignments); unknown keys are ignored. A bad value throws FlannelError('BAD_SUBNET_ENV') naming the key and the value.
 */
export function parseSubnetEnv(text: string): SubnetEnv {
  const values = envAssignments(text);
  const cidrs = (key: string): Cidr[] => {
    const value = values.get(key);
    if (value === undefined || value === '') return [];
    const unique = new Map<string, Cidr>();
    for (const part of value.split(',')) {
      const cidr = Cidr.tryParse(part.trim());
      if (!cidr) throw new FlannelError('BAD_SUBNET_ENV', `${key}: invalid CIDR ${JSON.stringify(part)}`);
      unique.set(cidr.masked().toString(), cidr.masked());
    }
    return [...unique.values()];
  };
  const single = (key: string): Cidr | undefined => {
    const list = cidrs(key);
    if (list.length > 1) throw new FlannelError('BAD_SUBNET_ENV', `${key}: expected one CIDR, got ${JSON.stringify(values.get(key))}`);
    return list[0];
  };
  const mtuText = values.get('FLANNEL_MTU');
  let mtu: number | undefined;
  if (mtuText !== undefined) {
    if (!/^\d+$/.test(mtuText) || Number(mtuText) > 0xffffffff) throw new FlannelError('BAD_SUBNET_ENV', `FLANNEL_MTU: invalid MTU ${JSON.stringify(mtuText)}`);
    mtu = Number(mtuText);
  }
  const masq = values.get('FLANNEL_IPMASQ');
  const subnet = single('FLANNEL_SUBNET');
  const ipv6Subnet = single('FLANNEL_IPV6_SUBNET');
  return {
    networks: cidrs('FLANNEL_NETWORK'),
    ipv6Networks: cidrs('FLANNEL_IPV6_NETWORK'),
    ...(subnet ? { subnet } : {}),
    ...(ipv6Subnet ? { ipv6Subnet } : {}),
    ...(mtu === undefined ? {} : { mtu }),
    ...(masq === undefined ? {} : { ipMasq: masq === 'true' }),
  };
}
