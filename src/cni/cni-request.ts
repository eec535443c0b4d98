/**
 * One CNI invocation's inputs, validated before anything touches the disk, in libcni skel's order and with its
 * error codes: required CNI_* variables (4, all missing ones named), the config as JSON with a `name` made of
 * [a-zA-Z0-9][a-zA-Z0-9_.-]* (6, 7), CNI_CONTAINERID of the same characters (so `../../x` can never become
 * a path outside dataDir) (4), CNI_IFNAME as the kernel allows (4), then the version: supported (1), and
 * for CHECK at least 0.4.0 (1, "config version does not allow CHECK"). Pure.
 */
import { CNI_ERROR, CniConfigError, decodeNetConfObject } from './delegate-config.js';
import { CHECK_SINCE, IMPLIED_VERSION, requireSupportedVersion, versionAtLeast } from './cni-versions.js';

export type CniCommand = 'ADD' | 'DEL' | 'CHECK';

export interface CniRequest {
  readonly command: CniCommand;
  readonly containerId: string;
  readonly ifName: string;
  /** The config's cniVersion as given ('' when absent). */
  readonly cniVersion: string;
}

type Env = Readonly<Record<string, string | undefined>>;

const REQUIRED: Readonly<Record<string, readonly CniCommand[]>> = {
  CNI_CONTAINERID: ['ADD', 'CHECK', 'DEL'],
  CNI_NETNS: ['ADD', 'CHECK'],
  CNI_IFNAME: ['ADD', 'CHECK', 'DEL'],
  CNI_PATH: ['ADD', 'CHECK', 'DEL'],
};

/** `[a-zA-Z0-9][a-zA-Z0-9_.-]*`: libcni's rule for container IDs and network names. */
const CNI_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
const MAX_INTERFACE_NAME = 15;

/** Validates an ADD, DEL or CHECK request; throws CniConfigError with the spec's code otherwise. */
export function parseCniRequest(env: Env, stdin: string): CniRequest {
  const command = env.CNI_COMMAND ?? '';
  if (command !== 'ADD' && command !== 'DEL' && command !== 'CHECK') {
    throw new CniConfigError(CNI_ERROR.invalidEnvironment, `unknown CNI_COMMAND: ${JSON.stringify(command)}`);
  }
  const missing = Object.entries(REQUIRED).filter(([name, commands]) => commands.includes(command) && !env[name]).map(([name]) => name);
  if (missing.length > 0) throw new CniConfigError(CNI_ERROR.invalidEnvironment, `required env variables [${missing.join(',')}] missing`);
  const cniVersion = networkVersion(stdin);
  const containerId = env.CNI_CONTAINERID as string;
  if (!CNI_NAME.test(containerId)) throw new CniConfigError(CNI_ERROR.invalidEnvironment, 'invalid characters in containerID', containerId);
  const ifName = env.CNI_IFNAME as string;
  checkInterfaceName(ifName);
  const version = cniVersion === '' ? IMPLIED_VERSION : cniVersion;
  if (command === 'CHECK' && !versionAtLeast(version, CHECK_SINCE)) {
    throw new CniConfigError(CNI_ERROR.incompatibleVersion, 'config version does not allow CHECK', `config is ${JSON.stringify(version)}, CHECK needs ${CHECK_SINCE} or later`);
  }
  requireSupportedVersion(version);
  return { command, containerId, ifName, cniVersion };
}

/** The config's name check and its cniVersion ('' when absent). */
function networkVersion(stdin: string): string {
  const { name, cniVersion } = decodeNetConfObject(stdin, 'error unmarshalling network config');
  if (name !== undefined && typeof name !== 'string') throw new CniConfigError(CNI_ERROR.decodeFailure, `error unmarshalling network config: name must be a string, got ${JSON.stringify(name)}`);
  if (!name) throw new CniConfigError(CNI_ERROR.invalidConfig, 'missing network name');
  if (!CNI_NAME.test(name)) throw new CniConfigError(CNI_ERROR.invalidConfig, 'invalid characters found in network name', name);
  if (cniVersion !== undefined && typeof cniVersion !== 'string') {
    throw new CniConfigError(CNI_ERROR.decodeFailure, `decoding version from network config: cniVersion must be a string, got ${JSON.stringify(cniVersion)}`);
  }
  return cniVersion ?? '';
}

/** The kernel's rules for a device name (dev_valid_name), as libcni checks them. */
function checkInterfaceName(name: string): void {
  const fail = (why: string) => new CniConfigError(CNI_ERROR.invalidEnvironment, why, `CNI_IFNAME=${JSON.stringify(name)}`);
  if (new TextEncoder().encode(name).length > MAX_INTERFACE_NAME) throw fail(`interface name is too long (at most ${MAX_INTERFACE_NAME} bytes)`);
  if (name === '.' || name === '..') throw fail('interface name is . or ..');
  if (/[/:\s]/u.test(name)) throw fail('interface name contains / or : or whitespace characters');
}
