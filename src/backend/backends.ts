/**
 * The explicit map from backend type (lower-cased, as upstream looks it up) to factory. Types upstream knows
 * but flannel-ts has not built yet fail with a clear "not supported yet" error.
 */
import { KNOWN_BACKEND_TYPES } from '../config/network-config.js';
import { FlannelError } from '../support/errors.js';
import { createAllocBackend } from './alloc/alloc-backend.js';
import type { BackendFactory } from './backend.js';
import { HOST_GW, createHostGwBackend } from './host-gw/host-gw-backend.js';
import { VXLAN, createVxlanBackend } from './vxlan/vxlan-backend.js';

const FACTORIES: Readonly<Record<string, BackendFactory>> = {
  [VXLAN]: createVxlanBackend,
  [HOST_GW]: createHostGwBackend,
  alloc: createAllocBackend,
};

export function backendFactory(type: string): BackendFactory {
  const factory = FACTORIES[type.toLowerCase()];
  if (factory) return factory;
  if ((KNOWN_BACKEND_TYPES as readonly string[]).includes(type.toLowerCase())) {
    throw new FlannelError('NOT_SUPPORTED', `backend type ${JSON.stringify(type)} is not supported yet by flannel-ts (supported: ${Object.keys(FACTORIES).join(', ')})`);
  }
  throw new FlannelError('UNKNOWN_BACKEND', `unknown backend type: ${type}`);
}
