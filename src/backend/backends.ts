/**
 * The explicit map from backend type (lower-cased, as upstream looks it up) to factory and config check. Types
 * upstream knows but flannel-ts has not built yet fail with a clear "not supported yet" error; types flannel-ts
 * will not build (ipsec, cloud route tables) fail with the reason. flanneld and `flannelctl config check` both
 * go through this map, so they accept and refuse the same types.
 */
import { KNOWN_BACKEND_TYPES, type NetworkConfig } from '../config/network-config.js';
import { FlannelError } from '../support/errors.js';
import { createAllocBackend } from './alloc/alloc-backend.js';
import type { BackendFactory } from './backend.js';
import { createExtensionBackend } from './extension/extension-backend.js';
import { EXTENSION, checkExtensionConfig } from './extension/extension-options.js';
import { HOST_GW, createHostGwBackend } from './host-gw/host-gw-backend.js';
import { createIpipBackend } from './ipip/ipip-backend.js';
import { IPIP, checkIpipConfig } from './ipip/ipip-options.js';
import { VXLAN, createVxlanBackend } from './vxlan/vxlan-backend.js';
import { checkVxlanConfig } from './vxlan/vxlan-options.js';
import { createWireguardBackend } from './wireguard/wireguard-backend.js';
import { WIREGUARD, checkWireguardConfig } from './wireguard/wireguard-options.js';
import { createUdpBackend } from './udp/udp-backend.js';
import { UDP, checkUdpConfig } from './udp/udp-options.js';

interface BackendEntry {
  readonly create: BackendFactory;
  /** Every problem of the Backend options that the config alone reveals (`flannelctl config check`). */
  readonly checkConfig: (config: NetworkConfig) => string[];
}

const NO_OPTIONS = (): string[] => [];
const BACKENDS: Readonly<Record<string, BackendEntry>> = {
  [VXLAN]: { create: createVxlanBackend, checkConfig: (config) => checkVxlanConfig(config) },
  [HOST_GW]: { create: createHostGwBackend, checkConfig: NO_OPTIONS },
  alloc: { create: createAllocBackend, checkConfig: NO_OPTIONS },
  [WIREGUARD]: { create: createWireguardBackend, checkConfig: (config) => checkWireguardConfig(config) },
  [IPIP]: { create: createIpipBackend, checkConfig: (config) => checkIpipConfig(config) },
  [EXTENSION]: { create: createExtensionBackend, checkConfig: (config) => checkExtensionConfig(config) },
  [UDP]: { create: createUdpBackend, checkConfig: (config) => checkUdpConfig(config) },
};

/** Backends upstream has that flannel-ts does not provide, and why. */
const NOT_PROVIDED: Readonly<Record<string, string>> = {
  ipsec: 'backend type "ipsec" is not supported by flannel-ts: it needs strongSwan\'s charon and IKE; use "wireguard" for encryption between hosts',
  'tencent-vpc': 'backend type "tencent-vpc" is not supported by flannel-ts: it programs a cloud provider\'s route table; use "host-gw" or "vxlan"',
};

export function backendFactory(type: string): BackendFactory {
  const entry = BACKENDS[type.toLowerCase()];
  if (entry) return entry.create;
  throw unsupported(type);
}

/** Problems of the config's Backend for the backend it names (unknown types are the config parser's to report). */
export function backendConfigProblems(config: NetworkConfig): string[] {
  const entry = BACKENDS[config.backendType];
  if (entry) return entry.checkConfig(config);
  const known = (KNOWN_BACKEND_TYPES as readonly string[]).includes(config.backendType);
  return known ? [`Backend.Type: ${unsupported(config.backendType).message}`] : [];
}

function unsupported(type: string): FlannelError {
  const reason = NOT_PROVIDED[type.toLowerCase()];
  if (reason) return new FlannelError('NOT_SUPPORTED', reason);
  if ((KNOWN_BACKEND_TYPES as readonly string[]).includes(type.toLowerCase())) {
    return new FlannelError('NOT_SUPPORTED', `backend type ${JSON.stringify(type)} is not supported yet by flannel-ts (supported: ${Object.keys(BACKENDS).join(', ')})`);
  }
  return new FlannelError('UNKNOWN_BACKEND', `unknown backend type: ${type}`);
}
