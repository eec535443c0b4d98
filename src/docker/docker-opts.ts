/**
 * Docker daemon options from flannel's subnet.env, byte for byte what upstream's mk-docker-opts.sh writes
 * (reference §6.3): DOCKER_OPT_BIP="--bip=$FLANNEL_SUBNET", DOCKER_OPT_MTU="--mtu=$FLANNEL_MTU",
 * DOCKER_OPT_IPMASQ="--ip-masq=<not FLANNEL_IPMASQ>" (flannel masquerades, so Docker must not, and vice versa),
 * one `NAME="value"` line per DOCKER_OPT_* variable in name order, then `KEY=" <opt> <opt>…"`. Pure.
 *
 * As the script, which sources subnet.env into its own environment: DOCKER_OPT_* variables already in the
 * environment are written too, and KEY's current value is put in front of the combined options (CentOS's
 * /etc/sysconfig/docker-network sets DOCKER_NETWORK_OPTIONS this way).
 *
 * Deliberate differences, each a failure the script lets through: a missing subnet.env is an error (the script
 * writes `DOCKER_OPTS=""` and Docker starts on the wrong subnet), FLANNEL_SUBNET and FLANNEL_MTU are checked,
 * and `"`, `\`, `$` and backquotes in a value are escaped so the file still parses.
 */
import { envAssignments } from '../cni/subnet-env.js';
import { MAIN_TABLE, type Route, describeRoute } from '../dataplane/kernel-objects.js';
import { Cidr } from '../net/ip.js';
import { FlannelError } from '../support/errors.js';
import type { DockerOptsRequest } from './docker-opts-args.js';

/** What subnet.env says Docker's bridge must be: the subnet's first address (FLANNEL_SUBNET), if IPv4 is on. */
export interface DockerNetwork {
  readonly bridgeAddress?: Cidr;
}

/**
 * The Docker env file for `request`, from subnet.env's text and the caller's environment. Throws
 * FlannelError('BAD_SUBNET_ENV') for a value Docker could not use, with the script's message for FLANNEL_IPMASQ.
 */
export function renderDockerOpts(request: DockerOptsRequest, subnetEnvText: string, environment: Readonly<Record<string, string | undefined>>): { text: string; network: DockerNetwork } {
  const file = envAssignments(subnetEnvText);
  // Sourcing: the file's assignments override the environment.
  const variables = new Map<string, string>();
  for (const [name, value] of Object.entries(environment)) if (value !== undefined) variables.set(name, value);
  for (const [name, value] of file) variables.set(name, value);

  const subnetText = variables.get('FLANNEL_SUBNET') ?? '';
  const mtu = variables.get('FLANNEL_MTU') ?? '';
  const masq = variables.get('FLANNEL_IPMASQ') ?? '';
  let bridgeAddress: Cidr | undefined;
  if (subnetText !== '') {
    bridgeAddress = Cidr.tryParse(subnetText);
    if (bridgeAddress?.family !== 4) throw badValue(request, 'FLANNEL_SUBNET', subnetText, 'an IPv4 address/prefix such as 10.1.74.1/24');
    variables.set('DOCKER_OPT_BIP', `--bip=${subnetText}`);
  }
  if (mtu !== '') {
    if (!/^\d{1,5}$/.test(mtu)) throw badValue(request, 'FLANNEL_MTU', mtu, 'a number of bytes');
    variables.set('DOCKER_OPT_MTU', `--mtu=${mtu}`);
  }
  if (masq !== '' && request.ipMasq) {
    if (masq !== 'true' && masq !== 'false') throw new FlannelError('BAD_SUBNET_ENV', `Invalid value of FLANNEL_IPMASQ: ${masq}`);
    variables.set('DOCKER_OPT_IPMASQ', `--ip-masq=${masq === 'true' ? 'false' : 'true'}`);
  }

  // `set` lists variables in byte order of their names.
  const names = [...variables.keys()].filter((name) => name.startsWith('DOCKER_OPT_') && name !== request.combinedKey).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const lines: string[] = [];
  const existing = variables.get(request.combinedKey) ?? '';
  let combined = existing === '' ? '' : `${existing} `;
  for (const name of names) {
    const value = variables.get(name) as string;
    if (request.individual) lines.push(`${name}="${escapeDoubleQuoted(value)}"`);
    combined += ` ${value}`;
  }
  if (request.combined) lines.push(`${request.combinedKey}="${escapeDoubleQuoted(combined)}"`);
  return { text: lines.map((line) => `${line}\n`).join(''), network: bridgeAddress ? { bridgeAddress } : {} };
}

/**
 * The route that makes Docker's bridge unusable, as the script checks last: a main-table route to this host's
 * flannel subnet through a gateway (the subnet is then routed elsewhere, so Docker's bridge would be
 * unreachable). Upstream greps `ip route show`; this compares the subnet exactly.
 */
export function conflictingRoute(network: DockerNetwork, routes: readonly Route[]): Route | undefined {
  const subnet = network.bridgeAddress?.masked();
  if (!subnet) return undefined;
  return routes.find((route) => route.table === MAIN_TABLE && route.gateway !== undefined && route.dst.equals(subnet));
}

/** The script's message for a conflicting route. */
export function conflictMessage(route: Route, linkName: (index: number) => string | undefined): string {
  const named = route.linkIndex === undefined ? route : { ...route, linkName: linkName(route.linkIndex) ?? `#${route.linkIndex}` };
  return `Your routing table already contains the subnet: ${describeRoute(named)}`;
}

function badValue(request: DockerOptsRequest, key: string, value: string, want: string): FlannelError {
  return new FlannelError('BAD_SUBNET_ENV', `${request.subnetFile}: ${key}=${JSON.stringify(value)} is not ${want}`);
}

/** Inside double quotes, both sh and systemd's EnvironmentFile= take these four characters after a backslash. */
function escapeDoubleQuoted(value: string): string {
  return value.replace(/["\\$`]/g, (character) => `\\${character}`);
}
