/**
 * The Registry port on etcd's v3 API (through our gRPC EtcdClient): keys and JSON exactly as upstream flannel
 * writes them.
 *
 * - Create is one transaction `if version(key) == 0 then put(key, value, lease)`; losing it revokes the fresh
 *   etcd lease and throws FlannelError('SUBNET_TAKEN', retryable).
 * - Renewal grants a new 24 h etcd lease and re-puts the value under it, like upstream.
 * - Listing does not call TimeToLive per key (upstream does, 5,000 round trips at 5,000 nodes); peers' expiry is
 *   not needed, and a key without an etcd lease (a reservation) is a lease like any other.
 * - A store that was wiped or restored from a backup is noticed when a watch is (re)created: etcd would let
 *   the watch start at a revision it has not reached yet and wait there silently, missing every change until
 *   its revision climbs back. REGISTRY_RESET is thrown instead when etcd's cluster ID differs from the one
 *   the watched revisions came from, or when the store's revision (the "created" response's header) is below
 *   the last revision the caller saw.
 * - Errors are translated here, once: authentication and permission failures are fatal (ETCD_AUTH /
 *   ETCD_PERMISSION), so is a TLS or scheme mismatch on every endpoint (ETCD_TLS), a compacted revision is
 *   COMPACTED, anything else retryable (ETCD_UNAVAILABLE).
 * - With `metrics`, every call is timed (`flannel_registry_request_duration_seconds{registry="etcd"}`, a watch
 *   until etcd confirmed it) and its failure classified, and every watch that ends other than by the caller's
 *   abort counts as a restart with its reason (the lease stream starts it again).
 */
import type { Lease } from '../../lease/lease.js';
import { encodeLeaseAttrs, leaseKey } from '../../lease/lease.js';
import type { LeaseEvent } from '../../lease/lease-tracker.js';
import type { FlannelMetrics, RegistryErrorClass, RegistryOp, WatchRestartReason } from '../../metrics/flannel-metrics.js';
import type { LeaseExpiry } from '../../ops/lease-listing.js';
import { timedRegistryRequest } from '../../metrics/timed-registry-request.js';
import type { MalformedEntry, Registry, RegistryListing, RegistryWatchBatch } from '../../subnet/registry.js';
import { collectChange, joinKey, parseStoredLease, subnetsPrefix } from '../../subnet/stored-lease.js';
import { FlannelError, errorMessage } from '../../support/errors.js';
import { EtcdClient, type EtcdClientOptions, EtcdGrpcError, EtcdUnreachable, GRPC_STATUS } from './etcd-client.js';

export interface EtcdRegistryOptions extends EtcdClientOptions {
  readonly prefix: string;
  readonly metrics?: FlannelMetrics['registry'];
}

/** LeaseTimeToLive calls in flight at once (5,000 leases: ~300 round trips, not 5,000 in a row). */
const TTL_LOOKUPS_AT_ONCE = 16;

export class EtcdRegistry implements Registry {
  private readonly client: EtcdClient;
  private readonly subnets: string;
  private readonly configKey: string;
  /** The cluster the last listing or watch came from: a watch resumed on another cluster missed its history. */
  private clusterId: bigint | undefined;

  constructor(private readonly options: EtcdRegistryOptions) {
    this.client = new EtcdClient(options);
    this.subnets = subnetsPrefix(options.prefix);
    this.configKey = joinKey(options.prefix, 'config');
  }

  async getNetworkConfig(): Promise<string | undefined> {
    return this.timed('get_config', async () => (await this.call('get config', () => this.client.get(this.configKey)))?.value);
  }

  listLeases(): Promise<RegistryListing> {
    return this.timed('list', () => this.list());
  }

  createLease(lease: Lease, ttlSeconds: number): Promise<Lease> {
    return this.timed('create', () => this.create(lease, ttlSeconds));
  }

  /** Renewal (and re-assertion of our key): a fresh etcd lease and the value put under it. */
  updateLease(lease: Lease, ttlSeconds: number): Promise<Lease> {
    return this.timed('renew', async () => {
      const key = this.subnets + leaseKey(lease);
      const grant = await this.call('grant lease', () => this.client.grantLease(ttlSeconds));
      await this.call('renew subnet', () => this.client.put(key, encodeLeaseAttrs(lease.attrs), grant.id));
      return { ...lease, expiresAtMs: Date.now() + grant.ttlSeconds * 1000 };
    });
  }

  deleteLease(lease: Pick<Lease, 'subnet' | 'ipv6Subnet'>): Promise<void> {
    return this.timed('delete', () => this.call('delete subnet', () => this.client.delete(this.subnets + leaseKey(lease))));
  }

  private async list(): Promise<RegistryListing> {
    const { kvs, revision, header } = await this.call('list subnets', () => this.client.getPrefix(this.subnets));
    this.clusterId = header.clusterId;
    const leases: Lease[] = [];
    const malformed: MalformedEntry[] = [];
    for (const kv of kvs) {
      const parsed = parseStoredLease(kv.key.slice(this.subnets.length), kv.value, undefined, kv.createRevision);
      if ('lease' in parsed) leases.push(parsed.lease);
      else malformed.push(parsed.malformed);
    }
    return { leases, malformed, revision };
  }

  /**
   * The listing plus when each lease runs out, for operators (`flannelctl leases`): one LeaseTimeToLive per
   * distinct etcd lease, a few at a time — flanneld itself never asks (see above). A key stored without an etcd
   * lease never expires; a lookup that fails leaves that lease's expiry unknown, with the reason.
   */
  async listLeasesWithExpiry(nowMs: () => number = Date.now): Promise<RegistryListing & { readonly expiry: ReadonlyMap<string, LeaseExpiry> }> {
    const { kvs, revision, header } = await this.call('list subnets', () => this.client.getPrefix(this.subnets));
    this.clusterId = header.clusterId;
    const ttl = new Map<bigint, Promise<LeaseExpiry>>();
    const ids = [...new Set(kvs.map((kv) => kv.lease).filter((id) => id !== 0n))];
    for (let start = 0; start < ids.length; start += TTL_LOOKUPS_AT_ONCE) {
      const batch = ids.slice(start, start + TTL_LOOKUPS_AT_ONCE).map((id) => {
        const lookup = this.client.leaseTimeToLive(id).then(
          (seconds): LeaseExpiry => (seconds < 0 ? { state: 'expired' } : { state: 'at', atMs: nowMs() + seconds * 1000 }),
          (error: unknown): LeaseExpiry => ({ state: 'unknown', reason: translate('lease time to live', error).message }),
        );
        ttl.set(id, lookup);
        return lookup;
      });
      await Promise.all(batch);
    }
    const leases: Lease[] = [];
    const malformed: MalformedEntry[] = [];
    const expiry = new Map<string, LeaseExpiry>();
    for (const kv of kvs) {
      const key = kv.key.slice(this.subnets.length);
      const when = kv.lease === 0n ? ({ state: 'never' } as const) : await (ttl.get(kv.lease) as Promise<LeaseExpiry>);
      const parsed = parseStoredLease(key, kv.value, when.state === 'at' ? when.atMs : undefined, kv.createRevision);
      if ('lease' in parsed) leases.push(parsed.lease);
      else malformed.push(parsed.malformed);
      expiry.set(key, when);
    }
    return { leases, malformed, revision, expiry };
  }

  private async create(lease: Lease, ttlSeconds: number): Promise<Lease> {
    const key = this.subnets + leaseKey(lease);
    const grant = await this.call('grant lease', () => this.client.grantLease(ttlSeconds));
    const created = await this.call('create subnet', () => this.client.createIfAbsent(key, encodeLeaseAttrs(lease.attrs), grant.id));
    if (!created) {
      await this.client.revokeLease(grant.id).catch(() => undefined);
      throw new FlannelError('SUBNET_TAKEN', `subnet already exists: ${leaseKey(lease)}`, { retryable: true });
    }
    return { ...lease, expiresAtMs: Date.now() + grant.ttlSeconds * 1000 };
  }

  async *watchLeases(fromRevision: bigint, signal: AbortSignal, onEstablished?: () => void): AsyncIterable<RegistryWatchBatch> {
    const metrics = this.options.metrics;
    const started = performance.now();
    let created = false;
    // Why the watch ended, unless the caller aborted it: counted once, however it ends.
    let ending: WatchRestartReason = 'closed';
    try {
      for await (const result of this.client.watch(this.subnets, fromRevision, signal)) {
        if (result.created) {
          if (!created) metrics?.request('etcd', 'watch', (performance.now() - started) / 1000);
          created = true;
          this.checkSameStore(fromRevision, result.header);
          onEstablished?.();
        }
        if (result.compactRevision !== 0n) {
          throw new FlannelError('COMPACTED', `watch revision ${fromRevision} compacted (oldest ${result.compactRevision})`);
        }
        if (result.canceled) {
          throw new FlannelError('ETCD_UNAVAILABLE', `etcd cancelled the watch: ${result.cancelReason || 'no reason given'}`, { retryable: true });
        }
        if (result.events.length === 0) continue;
        const events: LeaseEvent[] = [];
        const malformed: MalformedEntry[] = [];
        for (const event of result.events) {
          collectChange(event.kv.key.slice(this.subnets.length), event.type === 'DELETE' ? undefined : event.kv.value, undefined, events, malformed, event.kv.createRevision);
        }
        yield { revision: result.revision, events, malformed };
      }
    } catch (error) {
      const translated = translate('watch subnets', error);
      ending = translated.code === 'COMPACTED' ? 'compacted' : translated.code === 'REGISTRY_RESET' ? 'reset' : 'error';
      if (!created && !signal.aborted) metrics?.request('etcd', 'watch', (performance.now() - started) / 1000, registryErrorClass(translated));
      throw translated;
    } finally {
      if (!signal.aborted) metrics?.watchRestart('etcd', ending);
    }
  }

  /**
   * A watch from `fromRevision` is one from a caller that saw revision `fromRevision - 1` of this store. A store
   * below that revision, or another cluster, is not the store the caller's view came from.
   */
  private checkSameStore(fromRevision: bigint, header: { clusterId: bigint; revision: bigint }): void {
    const previous = this.clusterId;
    this.clusterId = header.clusterId;
    if (previous !== undefined && previous !== header.clusterId) {
      throw new FlannelError('REGISTRY_RESET', `etcd cluster ID changed from ${hex(previous)} to ${hex(header.clusterId)} (restored from a backup?)`);
    }
    if (header.revision < fromRevision - 1n) {
      throw new FlannelError('REGISTRY_RESET', `etcd is at revision ${header.revision}, below revision ${fromRevision - 1n} already seen (wiped or restored from a backup?)`);
    }
  }

  async close(): Promise<void> {
    this.client.close();
  }

  /** Runs one registry operation, timed and (on failure) classified when there are metrics. */
  private timed<T>(op: RegistryOp, operation: () => Promise<T>): Promise<T> {
    return timedRegistryRequest(this.options.metrics, 'etcd', op, operation, registryErrorClass);
  }

  private async call<T>(what: string, operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      throw translate(what, error);
    }
  }
}

/** One place where etcd errors become FlannelErrors. */
function translate(what: string, error: unknown): FlannelError {
  if (error instanceof FlannelError) return error;
  const message = errorMessage(error);
  if (error instanceof EtcdUnreachable && error.configuration) return new FlannelError('ETCD_TLS', `etcd ${what}: ${message}`, { cause: error });
  if (error instanceof EtcdGrpcError) {
    if (error.grpcCode === GRPC_STATUS.outOfRange && /compacted/i.test(message)) return new FlannelError('COMPACTED', `etcd ${what}: ${message}`, { cause: error });
    if (/authentication failed|invalid user ID or password/i.test(message)) {
      return new FlannelError('ETCD_AUTH', `etcd ${what}: authentication failed (check --etcd-username/--etcd-password): ${message}`, { cause: error });
    }
    if (error.grpcCode === GRPC_STATUS.permissionDenied || /permission denied/i.test(message)) {
      return new FlannelError('ETCD_PERMISSION', `etcd ${what}: permission denied (the etcd user needs read/write on the prefix): ${message}`, { cause: error });
    }
  }
  return new FlannelError('ETCD_UNAVAILABLE', `etcd ${what}: ${message}`, { cause: error, retryable: true });
}

/** The class of a translated etcd failure, for the error metric (the log line has the message). */
export function registryErrorClass(error: unknown): RegistryErrorClass {
  if (!(error instanceof FlannelError)) return 'other';
  switch (error.code) {
    case 'ETCD_AUTH':
    case 'ETCD_PERMISSION':
      return 'unauthorized';
    case 'SUBNET_TAKEN':
      return 'conflict';
    case 'ETCD_UNAVAILABLE':
      return /no answer within|timed? ?out|deadline/i.test(error.message) ? 'timeout' : 'unavailable';
    default:
      return 'other';
  }
}

function hex(id: bigint): string {
  return id.toString(16);
}
