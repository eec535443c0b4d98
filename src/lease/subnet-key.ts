/**
 * etcd key names of leases under `<prefix>/subnets/` (reference §3.2): `10.1.5.0-24`, and for dual stack
 * `10.1.5.0-24&fd00:12:13::-56`. Parsing follows upstream's regex, including its quirks: the match is anchored
 * at the end only (so a full etcd key parses), the IPv4 prefix must be 0..31 and the IPv6 part lower-case.
 */
import { Cidr, IpAddress } from '../net/ip.js';

export interface SubnetPair {
  readonly subnet: Cidr;
  readonly ipv6Subnet?: Cidr;
}

export function makeSubnetKey(subnet: Cidr, ipv6Subnet?: Cidr): string {
  const v4 = `${subnet.ip}-${subnet.prefixLength}`;
  return ipv6Subnet ? `${v4}&${ipv6Subnet.ip}-${ipv6Subnet.prefixLength}` : v4;
}

const KEY_PATTERN = /(\d+\.\d+.\d+.\d+)-(\d+)(?:&([a-f\d:]+)-(\d+))?$/;

/** Returns undefined for anything upstream would skip ("not a subnet"). */
export function parseSubnetKey(key: string): SubnetPair | undefined {
  const match = KEY_PATTERN.exec(key);
  if (!match) return undefined;
  const [, v4Text, v4Length, v6Text, v6Length] = match;
  const v4 = IpAddress.tryParse(v4Text ?? '');
  const v4Prefix = Number(v4Length);
  if (!v4 || v4.family !== 4 || !/^\d{1,2}$/.test(v4Length ?? '') || v4Prefix > 31) return undefined;
  const subnet = Cidr.of(v4, v4Prefix);
  if (v6Text === undefined) return { subnet };
  const v6 = IpAddress.tryParse(v6Text);
  const v6Prefix = Number(v6Length);
  if (!v6 || v6.family !== 6 || !/^\d{1,3}$/.test(v6Length ?? '') || v6Prefix > 127) return undefined;
  return { subnet, ipv6Subnet: Cidr.of(v6, v6Prefix) };
}
