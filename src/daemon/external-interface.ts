/**
 * Choosing the external interface and the public address (reference §10), over the Kernel port's read
 * methods only: `--iface` (IP or name, in order), then `--iface-regex` (addresses first, then names), then
 * `--iface-can-reach`; with none of them, the interface owning `--public-ip`, else the default-route interface.
 * A regex that matches an address selects that address (not the link's first one), as upstream; regexes have
 * Go's meaning (go-regexp.ts).
 * Errors name what was asked for and what exists.
 */
import type { ExternalInterface } from '../backend/backend.js';
import {
  type Address, IFA_F_DEPRECATED, IFA_F_PERMANENT, IFA_F_TEMPORARY, type Link, MAIN_TABLE,
} from '../dataplane/kernel-objects.js';
import type { Kernel } from '../dataplane/kernel.js';
import { Cidr, IpAddress, type IpFamily } from '../net/ip.js';
import { compileGoRegexp } from '../config/go-regexp.js';
import { FlannelError, errorMessage } from '../support/errors.js';

export interface InterfaceSelectionOptions {
  readonly iface: readonly string[];
  readonly ifaceRegex: readonly string[];
  readonly ifaceCanReach: string;
  readonly publicIP: string;
  readonly publicIPv6: string;
  readonly enableIPv4: boolean;
  readonly enableIPv6: boolean;
}

export interface SelectionResult {
  readonly externalInterface: ExternalInterface;
  /** Failed candidates, for the "Could not find valid interface matching …" info lines. */
  readonly notes: readonly string[];
}

export async function selectExternalInterface(kernel: Kernel, options: InterfaceSelectionOptions): Promise<SelectionResult> {
  const links = await kernel.listLinks();
  const addresses = await kernel.listAddresses();
  const notes: string[] = [];
  const families: IpFamily[] = [...(options.enableIPv4 ? [4 as const] : []), ...(options.enableIPv6 ? [6 as const] : [])];
  const publicIP = parseOptional(options.publicIP, 4, 'public IP address');
  const publicIPv6 = parseOptional(options.publicIPv6, 6, 'public IPv6 address');
  const build = (link: Link, fixed: Partial<Record<IpFamily, Cidr>> = {}): ExternalInterface =>
    describe(link, addresses, families, fixed, publicIP, publicIPv6);

  const explicit = options.iface.length > 0 || options.ifaceRegex.length > 0 || options.ifaceCanReach !== '';
  if (!explicit) {
    const owner = publicIP ?? publicIPv6;
    if (owner) {
      const match = addresses.find((address) => address.address.ip.equals(owner));
      const link = match && links.find((candidate) => candidate.index === match.linkIndex);
      if (!link || !match) throw new FlannelError('NO_INTERFACE', `Failed to find any valid interface to use: no interface has the public IP ${owner}`);
      return { externalInterface: build(link, { [owner.family]: match.address }), notes };
    }
    const routes = await kernel.listRoutes();
    const defaultLinks = families.map((family) => {
      const route = routes.find((candidate) => candidate.table === MAIN_TABLE && candidate.type === 'unicast' &&
        candidate.dst.prefixLength === 0 && candidate.dst.family === family);
      if (!route) throw new FlannelError('NO_INTERFACE', `unable to find default route (IPv${family}); use --iface, --iface-regex or --iface-can-reach`);
      if (route.linkIndex === undefined) throw new FlannelError('NO_INTERFACE', 'found default route but could not determine interface');
      return route.linkIndex;
    });
    if (new Set(defaultLinks).size > 1) throw new FlannelError('NO_INTERFACE', 'the IPv6 default route interface must be the same as the IPv4 default route interface');
    const link = links.find((candidate) => candidate.index === defaultLinks[0]);
    if (!link) throw new FlannelError('NO_INTERFACE', 'default route interface vanished');
    return { externalInterface: build(link), notes };
  }

  for (const candidate of options.iface) {
    const ip = IpAddress.tryParse(candidate);
    if (ip) {
      const match = addresses.find((address) => address.address.ip.equals(ip));
      const link = match && links.find((l) => l.index === match.linkIndex);
      if (link && match) return { externalInterface: build(link, { [ip.family]: match.address }), notes };
      notes.push(`Could not find valid interface matching ${candidate}: no interface has that IP`);
      continue;
    }
    const link = links.find((l) => l.name === candidate);
    if (link) return { externalInterface: build(link), notes };
    notes.push(`Could not find valid interface matching ${candidate}: no such interface`);
  }
  for (const pattern of options.ifaceRegex) {
    const regex = compileIfaceRegex(pattern);
    const byAddress = matchAddresses(regex, links, addresses, families);
    if (byAddress) return { externalInterface: build(byAddress.link, byAddress.fixed), notes };
    const link = links.find((l) => regex.test(l.name));
    if (link) return { externalInterface: build(link), notes };
    const available = links.map((l) => `${l.name}:[${usableAddresses(addresses, l.index, families.length === 1 ? families[0] : 4).map((a) => a.address.ip).join(' ')}]`);
    notes.push(`could not match pattern ${pattern} to any of the available network interfaces (${available.join(', ')})`);
  }
  if (options.ifaceCanReach !== '') {
    const target = IpAddress.parse(options.ifaceCanReach, '--iface-can-reach address');
    const lookup = await kernel.routeGet(target);
    const link = lookup?.linkIndex === undefined ? undefined : links.find((l) => l.index === lookup.linkIndex);
    if (link && lookup?.prefSrc) {
      const own = addresses.find((a) => a.linkIndex === link.index && a.address.ip.equals(lookup.prefSrc));
      return { externalInterface: build(link, own ? { [own.address.family]: own.address } : {}), notes };
    }
    notes.push(`Could not find valid interface matching ${options.ifaceCanReach}: no route reaches it`);
  }
  throw new FlannelError('NO_INTERFACE', `Failed to find interface to use that matches the interfaces and/or regexes provided: ${notes.join('; ')}`);
}

/** An `--iface-regex` value compiled with Go's (RE2) meaning; FlannelError('BAD_FLAG') naming it otherwise. */
export function compileIfaceRegex(pattern: string): RegExp {
  try {
    return compileGoRegexp(pattern);
  } catch (error) {
    throw new FlannelError('BAD_FLAG', `--iface-regex: could not compile the IP address regex '${pattern}': ${errorMessage(error)}`);
  }
}

/**
 * The first link (kernel order) with a usable address of every family the regex matches, and those addresses
 * (as upstream's LookupExtIface: dual stack needs a v4 match and a v6 match on the same link).
 */
function matchAddresses(regex: RegExp, links: readonly Link[], addresses: readonly Address[], families: readonly IpFamily[]): { link: Link; fixed: Partial<Record<IpFamily, Cidr>> } | undefined {
  for (const link of links) {
    const fixed: Partial<Record<IpFamily, Cidr>> = {};
    for (const family of families) {
      const match = usableAddresses(addresses, link.index, family).find((address) => regex.test(address.address.ip.toString()));
      if (!match) break;
      fixed[family] = match.address;
    }
    if (families.every((family) => fixed[family] !== undefined)) return { link, fixed };
  }
  return undefined;
}

function parseOptional(text: string, family: IpFamily, what: string): IpAddress | undefined {
  if (text === '') return undefined;
  const ip = IpAddress.tryParse(text);
  if (!ip || ip.family !== family) throw new FlannelError('BAD_FLAG', `invalid ${what}: ${text}`);
  return ip;
}

/**
 * Addresses of a link usable as its external address, best first (global, permanent, non-temporary): as Go's
 * IsGlobalUnicast || IsLinkLocalUnicast, so never loopback, multicast, broadcast or unspecified.
 */
function usableAddresses(addresses: readonly Address[], linkIndex: number, family?: IpFamily): Address[] {
  const rank = (address: Address) =>
    (address.address.ip.isLinkLocal() ? 4 : 0) + (address.flags & IFA_F_PERMANENT ? 0 : 2) + (address.flags & IFA_F_TEMPORARY ? 1 : 0);
  return addresses
    .filter((a) => a.linkIndex === linkIndex && (family === undefined || a.address.family === family))
    .filter((a) => !(a.flags & IFA_F_DEPRECATED) && !a.address.ip.isUnspecified() && !NOT_UNICAST.some((range) => range.contains(a.address.ip)))
    .sort((a, b) => rank(a) - rank(b));
}

const NOT_UNICAST = ['127.0.0.0/8', '224.0.0.0/4', '255.255.255.255/32', '::1/128', 'ff00::/8'].map((text) => Cidr.parse(text));

function describe(
  link: Link,
  addresses: readonly Address[],
  families: readonly IpFamily[],
  fixed: Partial<Record<IpFamily, Cidr>>,
  publicIP: IpAddress | undefined,
  publicIPv6: IpAddress | undefined,
): ExternalInterface {
  if (link.mtu === 0) throw new FlannelError('NO_INTERFACE', `failed to determine MTU for ${link.name} interface`);
  const pick = (family: IpFamily): Cidr | undefined => {
    if (!families.includes(family)) return undefined;
    const chosen = fixed[family] ?? usableAddresses(addresses, link.index, family)[0]?.address;
    if (!chosen) throw new FlannelError('NO_INTERFACE', `failed to find IPv${family} address for interface ${link.name}`);
    return chosen;
  };
  const ifaceAddr = pick(4);
  const ifaceV6Addr = pick(6);
  const extAddr = publicIP ?? ifaceAddr?.ip;
  const extV6Addr = publicIPv6 ?? ifaceV6Addr?.ip;
  return {
    linkIndex: link.index,
    name: link.name,
    mtu: link.mtu,
    prefixes: addresses.filter((a) => a.linkIndex === link.index).map((a) => a.address.masked()),
    ...(ifaceAddr ? { ifaceAddr } : {}),
    ...(ifaceV6Addr ? { ifaceV6Addr } : {}),
    ...(extAddr && families.includes(4) ? { extAddr } : {}),
    ...(extV6Addr && families.includes(6) ? { extV6Addr } : {}),
  };
}
