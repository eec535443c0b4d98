/**
 * The Registry port on etcd's v3 API (npm `etcd3`): keys and JSON exactly as upstream flannel writes them.
 *
 * - Create is one transaction `if version(key) == 0 then put(key, value, lease)`; losing it revokes the fresh
 *   etcd lease and throws FlannelError('SUBNET_TAKEN', retryable).
 * - Renewal grants a new 24 h etcd lease and re-puts the value under it, like upstream.
 * - Listing does not call TimeToLive per key (upstream does, 5,000 round trips at 5,000 nodes); peers' expiry is
 *   not needed, and a key without an etcd lease (a reservation) is a lease like any other.
 * - Library errors are translated here, once: authentication and permission failures are fatal
 *   (ETCD_AUTH / ETCD_PERMISSION), connection failures retryable (ETCD_UNAVAILABLE).
 */
import { Etcd3, type IOptions, type Watcher } from 'etcd3';
import type { Lease } from '../../lease/lease.js';
import { encodeLeaseAttrs, leaseKey } from '../../lease/lease.js';
import type { LeaseEvent } from '../../lease/lease-tracker.js';
import type { MalformedEntry, Registry, RegistryListing, RegistryWatchBatch } from '../../subnet/registry.js';
import { collectChange, joinKey, parseStoredLease, subnetsPrefix } from '../../subnet/stored-lease.js';
import { FlannelError, errorMessage } from '../../support/errors.js';

export interface EtcdRegistryOptions {
  readonly endpoints: readonly string[];
  readonly prefix: string;
  readonly tls?: { readonly ca?: Buffer; readonly cert: Buffer; readonly key: Buffer };
  readonly username?: string;
  readonly password?: string;
  /** Per-request deadline; watches are not limited. */
  readonly requestTimeoutMs?: number;
}

export class EtcdRegistry implements Registry {
  private readonly client: Etcd3;
  private readonly subnets: string;
  private readonly configKey: string;

  constructor(private readonly options: EtcdRegistryOptions) {
    const timeout = options.requestTimeoutMs ?? 5000;
    const settings: IOptions = {
      hosts: options.endpoints.map((endpoint) => endpoint.trim()).filter((endpoint) => endpoint !== ''),
      dialTimeout: timeout,
      defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + timeout }),
    };
    if (options.tls) {
      settings.credentials = {
        // grpc uses the system roots when no CA is given (rootCertificate is optional at run time).
        rootCertificate: options.tls.ca as Buffer,
        privateKey: options.tls.key,
        certChain: options.tls.cert,
      };
    }
    if (options.username) settings.auth = { username: options.username, password: options.password ?? '' };
    this.client = new Etcd3(settings);
    this.subnets = subnetsPrefix(options.prefix);
    this.configKey = joinKey(options.prefix, 'config');
  }

  async getNetworkConfig(): Promise<string | undefined> {
    const value = await this.call('get config', () => this.client.get(this.configKey).string());
    return value ?? undefined;
  }

  async listLeases(): Promise<RegistryListing> {
    const response = await this.call('list subnets', () => this.client.getAll().prefix(this.subnets).exec());
    const leases: Lease[] = [];
    const malformed: MalformedEntry[] = [];
    for (const kv of response.kvs) {
      const parsed = parseStoredLease(this.relative(kv.key), kv.value.toString('utf8'), undefined);
      if ('lease' in parsed) leases.push(parsed.lease);
      else malformed.push(parsed.malformed);
    }
    return { leases, malformed, revision: BigInt(response.header.revision) };
  }

  async createLease(lease: Lease, ttlSeconds: number): Promise<Lease> {
    const key = this.subnets + leaseKey(lease);
    const grant = await this.call('grant lease', () => this.client.leaseClient.leaseGrant({ TTL: ttlSeconds }));
    const result = await this.call('create subnet', () =>
      this.client
        .if(key, 'Version', '==', 0)
        .then(this.client.put(key).value(encodeLeaseAttrs(lease.attrs)).lease(grant.ID))
        .commit(),
    );
    if (!result.succeeded) {
      await this.client.leaseClient.leaseRevoke({ ID: grant.ID }).catch(() => undefined);
      throw new FlannelError('SUBNET_TAKEN', `subnet already exists: ${leaseKey(lease)}`, { retryable: true });
    }
    return { ...lease, expiresAtMs: Date.now() + Number(grant.TTL) * 1000 };
  }

  async updateLease(lease: Lease, ttlSeconds: number): Promise<Lease> {
    const key = this.subnets + leaseKey(lease);
    const grant = await this.call('grant lease', () => this.client.leaseClient.leaseGrant({ TTL: ttlSeconds }));
    await this.call('renew subnet', () => this.client.put(key).value(encodeLeaseAttrs(lease.attrs)).lease(grant.ID).exec());
    return { ...lease, expiresAtMs: Date.now() + Number(grant.TTL) * 1000 };
  }

  async deleteLease(lease: Pick<Lease, 'subnet' | 'ipv6Subnet'>): Promise<void> {
    await this.call('delete subnet', () => this.client.delete().key(this.subnets + leaseKey(lease)).exec());
  }

  async *watchLeases(fromRevision: bigint, signal: AbortSignal): AsyncIterable<RegistryWatchBatch> {
    const queue: Array<RegistryWatchBatch | FlannelError> = [];
    let wake: (() => void) | undefined;
    const push = (item: RegistryWatchBatch | FlannelError) => {
      queue.push(item);
      wake?.();
    };
    let watcher: Watcher | undefined;
    // A watch the server already cancelled must not be cancelled again: the library would wait forever for
    // a reply to that second cancel.
    let serverCancelled = false;
    const onAbort = () => wake?.();
    signal.addEventListener('abort', onAbort);
    try {
      // watcher(), not create(): create() only resolves on 'connected', which never comes when etcd cancels the
      // watch at creation (a compacted start revision), and listeners must be in place before that happens.
      watcher = this.client.watch().prefix(this.subnets).startRevision(fromRevision.toString()).watcher();
      watcher.on('data', (response) => {
        if (response.compact_revision && response.compact_revision !== '0') {
          push(new FlannelError('COMPACTED', `watch revision ${fromRevision} compacted (oldest ${response.compact_revision})`));
          return;
        }
        const events: LeaseEvent[] = [];
        const malformed: MalformedEntry[] = [];
        for (const event of response.events) {
          const key = this.relative(event.kv.key);
          const value = event.type === 'Delete' ? undefined : event.kv.value.toString('utf8');
          collectChange(key, value, undefined, events, malformed);
        }
        push({ revision: BigInt(response.header.revision), events, malformed });
      });
      watcher.on('error', (error: unknown) => {
        serverCancelled = true;
        // etcd 3.4 cancels a watch on a compacted revision with an empty reason, and the library drops the
        // compact_revision field: ask etcd directly whether the start revision is still readable.
        void this.classifyWatchError(error, fromRevision).then(push);
      });
      while (!signal.aborted) {
        const item = queue.shift();
        if (item instanceof FlannelError) throw item;
        if (item) {
          yield item;
          continue;
        }
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
      if (!serverCancelled) await watcher?.cancel().catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    this.client.close();
  }

  private async classifyWatchError(error: unknown, fromRevision: bigint): Promise<FlannelError> {
    const translated = translate('watch subnets', error);
    if (translated.code === 'COMPACTED') return translated;
    try {
      const start = Buffer.from(this.subnets);
      await this.client.kv.range({ key: start, range_end: prefixEnd(start), revision: fromRevision.toString(), limit: '1' });
      return translated;
    } catch (probe) {
      const classified = translate('watch subnets', probe);
      return classified.code === 'COMPACTED' ? classified : translated;
    }
  }

  private relative(key: Buffer): string {
    return key.toString('utf8').slice(this.subnets.length);
  }

  private async call<T>(what: string, operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      throw translate(what, error);
    }
  }
}

/** The smallest key greater than every key with this prefix (etcd's range_end for a prefix). */
function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let index = end.length - 1; index >= 0; index--) {
    if ((end[index] as number) < 0xff) {
      end[index] = (end[index] as number) + 1;
      return end.subarray(0, index + 1);
    }
  }
  return Buffer.from([0]);
}

/** One place where etcd3/grpc errors become FlannelErrors. */
function translate(what: string, error: unknown): FlannelError {
  if (error instanceof FlannelError) return error;
  const name = error instanceof Error ? error.constructor.name : '';
  const message = errorMessage(error);
  if (/compacted/i.test(message)) return new FlannelError('COMPACTED', `etcd ${what}: ${message}`, { cause: error });
  if (name === 'EtcdAuthenticationFailedError' || /authentication failed|invalid auth/i.test(message)) {
    return new FlannelError('ETCD_AUTH', `etcd ${what}: authentication failed (check --etcd-username/--etcd-password): ${message}`, { cause: error });
  }
  if (name === 'EtcdPermissionDeniedError' || /permission denied/i.test(message)) {
    return new FlannelError('ETCD_PERMISSION', `etcd ${what}: permission denied (the etcd user needs read/write on the prefix): ${message}`, { cause: error });
  }
  return new FlannelError('ETCD_UNAVAILABLE', `etcd ${what}: ${message}`, { cause: error, retryable: true });
}
