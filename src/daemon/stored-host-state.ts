/**
 * What the subnet manager remembers of this host from before (Kubernetes mode: our Node's annotations; etcd
 * mode: nothing), read once at start-up after the network config is known and before interface selection, as
 * upstream (reference §1.4 step 8, §4.6):
 * - `node-public-ip` / `node-public-ipv6` replace --public-ip / --public-ipv6 when set;
 * - the VTEP MACs published before go to the backend, so a recreated vxlan device keeps the MAC peers know.
 * A failure the source marks retryable (API server unreachable, credentials refused) is logged and retried
 * with backoff until `signal` aborts. A stored address that is not an IP of its family is reported, naming the
 * annotation's value, and ignored (upstream would fail later on it).
 */
import type { SubnetManager } from '../subnet/subnet-manager.js';
import type { MacAddress } from '../net/mac.js';
import { IpAddress, type IpFamily } from '../net/ip.js';
import type { Clock } from '../support/clock.js';
import type { Logger } from '../support/logger.js';
import { retryWhileRetryable } from '../support/retry.js';

export interface PublicAddressOptions {
  readonly publicIP: string;
  readonly publicIPv6: string;
}

export interface StoredHostState {
  /** --public-ip / --public-ipv6, or what the host stored instead. */
  readonly publicAddresses: PublicAddressOptions;
  readonly vtepMacs: { readonly v4?: MacAddress; readonly v6?: MacAddress };
}

export interface StoredHostStateInputs {
  readonly subnetManager: Pick<SubnetManager, 'storedPublicIPs' | 'storedVtepMacs'>;
  /** The flags' values. */
  readonly publicAddresses: PublicAddressOptions;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly signal: AbortSignal;
}

/** Undefined when `signal` aborts first; throws what the source throws as not retryable. */
export async function readStoredHostState(inputs: StoredHostStateInputs): Promise<StoredHostState | undefined> {
  const { subnetManager, logger, signal } = inputs;
  const read = <T>(what: string, call: (signal: AbortSignal) => Promise<T>) =>
    retryWhileRetryable(() => call(signal), {
      signal, clock: inputs.clock,
      onRetry: (error, retryInMs) => logger.warn({ err: error.message, code: error.code, retryInMs }, `cannot read ${what}; retrying`),
    });
  const storedPublicIPs = subnetManager.storedPublicIPs?.bind(subnetManager);
  const storedVtepMacs = subnetManager.storedVtepMacs?.bind(subnetManager);
  let publicAddresses = inputs.publicAddresses;
  if (storedPublicIPs) {
    const stored = await read('the public addresses stored for this host', storedPublicIPs);
    if (!stored) return undefined;
    publicAddresses = {
      publicIP: override(publicAddresses.publicIP, stored.publicIP, 4, logger),
      publicIPv6: override(publicAddresses.publicIPv6, stored.publicIPv6, 6, logger),
    };
  }
  let vtepMacs: StoredHostState['vtepMacs'] = {};
  if (storedVtepMacs) {
    const stored = await read('the VTEP MACs stored for this host', storedVtepMacs);
    if (!stored) return undefined;
    vtepMacs = stored;
  }
  return { publicAddresses, vtepMacs };
}

function override(flag: string, stored: string, family: IpFamily, logger: Logger): string {
  if (stored === '') return flag;
  const ip = IpAddress.tryParse(stored);
  if (!ip || ip.family !== family) {
    logger.warn({ value: stored, family: `IPv${family}` }, 'ignoring the stored node public address: not an IP address of its family');
    return flag;
  }
  logger.info({ publicIP: stored, flag: flag === '' ? undefined : flag }, `using the node's stored public IPv${family} address`);
  return stored;
}
