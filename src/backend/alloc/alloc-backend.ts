/**
 * alloc (reference §5.7): leases a subnet and publishes the public IP, programs nothing. For setups where
 * something else routes between hosts. Its lease has an empty BackendType, as upstream's.
 */
import { EMPTY_DESIRED_STATE } from '../../dataplane/desired-state.js';
import { UNSET_IPV4 } from '../../lease/lease.js';
import type { Backend, BackendContext } from '../backend.js';

export function createAllocBackend({ externalInterface: ext }: BackendContext): Backend {
  return {
    type: 'alloc',
    mtu: ext.mtu,
    leaseAttrs: { publicIP: ext.extAddr ?? UNSET_IPV4, backendType: '' },
    plan: () => EMPTY_DESIRED_STATE,
  };
}
