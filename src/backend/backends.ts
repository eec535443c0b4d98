/**
 * The explicit map from backend type (lower-cased, as upstream looks it up) to factory and config check. Types
 * upstream knows but flannel-ts has not built yet fail with a clear "not supported yet" error.
 */
import { KNOWN_BACKEND_TYPES, type NetworkConfig } from '../config/network-config.js';
import { FlannelError } from '../support/errors.js';
import { createAllocBackend } from './alloc/alloc-backend.js';
import type { BackendFactory } from './backend.js';
import { HOST_GW, createHostGwBackend } from './host-gw/host-gw-backend.js';
import { VXLAN, createVxlanBackend } from './vxlan/vxlan-backend.js';
import { checkVxlanConfig } from './vxlan/vxlan-options.js';

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
  if ((KNOWN_BACKEND_TYPES as readonly string[]).includes(type.toLowerCase())) {
    return new FlannelError('NOT_SUPPORTED', `backend type ${JSON.stringify(type)} is not supported yet by flannel-ts (supported: ${Object.keys(BACKENDS).join(', ')})`);
  }
  return new FlannelError('UNKNOWN_BACKEND', `unknown backend type: ${type}`);
}
