/**
 * Upstream's etcd "local manager" (reference §3) over the Registry port.
 *
 * Acquisition follows planAcquire (reuse our public IP's lease → previous subnet → random free subnet) and is
 * committed with the registry's atomic create. A lost create race is retried with a fresh listing (up to 10
 * times); upstream treats it as fatal and exits.
 */
import { type NetworkConfig, parseNetworkConfig } from '../config/network-config.js';
import { type Lease, type LeaseAttrs, leaseKey } from '../lease/lease.js';
import type { LeaseWatchResult } from '../lease/lease-tracker.js';
import { planAcquire } from '../lease/subnet-allocator.js';
import { type SubnetPair, makeSubnetKey } from '../lease/subnet-key.js';
import type { Cidr } from '../net/ip.js';
import { FlannelError } from '../support/errors.js';
import type { Logger } from '../support/logger.js';
import { watchLeaseStream } from './lease-watch.js';
import type { MalformedEntry, Registry, RegistryListing } from './registry.js';
import type { SubnetManager } from './subnet-manager.js';

export const SUBNET_TTL_SECONDS = 24 * 60 * 60;
const RACE_RETRIES = 10;

export interface EtcdSubnetManagerOptions {
  readonly registry: Registry;
  readonly logger: Logger;
  /** Subnets from the previous subnet.env (FLANNEL_SUBNET, FLANNEL_IPV6_SUBNET), masked. */
  readonly previous?: Partial<SubnetPair>;
  readonly random?: () => number;
  readonly ttlSeconds?: number;
}

export class EtcdSubnetManager implements SubnetManager {
  readonly name: string;
  private readonly ttlSeconds: number;
  private readonly random: () => number;
  /** The listing of the last acquisition, with its outcome applied: the first snapshot of the next watch. */
  private acquisitionListing: RegistryListing | undefined;

  constructor(private readonly options: EtcdSubnetManagerOptions) {
    this.name = `Etcd Local Manager with Previous Subnet: ${options.previous?.subnet?.toString() ?? 'None'}`;
    this.ttlSeconds = options.ttlSeconds ?? SUBNET_TTL_SECONDS;
    this.random = options.random ?? Math.random;
  }

  async getNetworkConfig(): Promise<NetworkConfig> {
    const text = await this.options.registry.getNetworkConfig();
    if (text === undefined) {
      throw new FlannelError(
        'CONFIG_MISSING',
        'flannel config not found in etcd store. Did you create your config using etcdv3 API?',
        { retryable: true },
      );
    }
    return parseNetworkConfig(text);
  }

  async acquireLease(config: NetworkConfig, attrs: LeaseAttrs, prefer?: Partial<SubnetPair>): Promise<Lease> {
    const { registry, logger } = this.options;
    const avoid: Cidr[] = [];
    for (let attempt = 1; attempt <= RACE_RETRIES; attempt++) {
      const listing = await registry.listLeases();
      const plan = planAcquire({
        config, leases: listing.leases, publicIP: attrs.publicIP, ...(attrs.publicIPv6 ? { publicIPv6: attrs.publicIPv6 } : {}),
        previous: prefer ?? this.options.previous,
        random: this.random, avoid,
      });
      for (const stale of plan.deletes) {
        logger.info({ subnet: stale.subnet.toString() }, 'lease for our public IP does not fit the network config; deleting it');
        await registry.deleteLease(stale);
      }
      const remember = (lease: Lease) => {
        const others = listing.leases.filter((other) => !plan.deletes.includes(other) && leaseKey(other) !== leaseKey(lease));
        this.acquisitionListing = { ...listing, leases: [...others, lease] };
        return lease;
      };
      if (plan.kind === 'reuse') {
        logger.info({ subnet: plan.lease.subnet.toString(), ipv6Subnet: plan.lease.ipv6Subnet?.toString() }, 'found lease for our public IP; reusing it');
        return remember(await registry.updateLease({ ...plan.lease, attrs }, this.ttlSeconds));
      }
      try {
        const lease = await registry.createLease({ ...plan.subnets, attrs }, this.ttlSeconds);
        logger.info({ subnet: lease.subnet.toString(), ipv6Subnet: lease.ipv6Subnet?.toString(), reason: plan.reason }, 'lease acquired');
        return remember(lease);
      } catch (error) {
        if (!(error instanceof FlannelError) || error.code !== 'SUBNET_TAKEN') throw error;
        logger.warn({ subnet: makeSubnetKey(plan.subnets.subnet, plan.subnets.ipv6Subnet), attempt }, 'lost a race for a subnet; trying another');
        avoid.push(config.enableIPv4 ? plan.subnets.subnet : (plan.subnets.ipv6Subnet as Cidr));
      }
    }
    throw new FlannelError('ACQUIRE_FAILED', `max retries (${RACE_RETRIES}) reached trying to acquire a subnet`, { retryable: true });
  }

  renewLease(lease: Lease): Promise<Lease> {
    return this.options.registry.updateLease(lease, this.ttlSeconds);
  }

  /** The first snapshot is the acquisition's listing when there is one (no second listing of every lease). */
  watchLeases(signal: AbortSignal, onMalformed: (entry: MalformedEntry) => void): AsyncIterable<LeaseWatchResult> {
    const initial = this.acquisitionListing;
    this.acquisitionListing = undefined;
    return watchLeaseStream(this.options.registry, { signal, logger: this.options.logger, onMalformed, ...(initial ? { initial } : {}) });
  }

  close(): Promise<void> {
    return this.options.registry.close();
  }
}
