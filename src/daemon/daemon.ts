/**
 * flanneld's lifecycle over ports (reference §1.4): wait for the network config, choose the external interface
 * and backend, lease a subnet, write subnet.env (then ready), follow peers' leases into the reconciler, keep
 * our lease renewed, and re-acquire it (same subnet preferred) when it is deleted or expires instead of exiting.
 *
 * The reconciler starts only after the first full lease snapshot, so a restarted daemon never deletes routes
 * to peers it has not heard about yet. On abort every loop ends and is awaited; kernel state is left in place
 * so that traffic keeps flowing across a restart.
 */
import type { Backend, ExternalInterface } from '../backend/backend.js';
import { backendFactory } from '../backend/backends.js';
import { renderSubnetEnv } from '../cni/subnet-env.js';
import type { NetworkConfig } from '../config/network-config.js';
import type { Kernel } from '../dataplane/kernel.js';
import { type KernelKind, Reconciler } from '../dataplane/reconciler.js';
import { type Lease, hasIpv4, leaseKey } from '../lease/lease.js';
import type { DesiredGroup, DesiredState } from '../dataplane/desired-state.js';
import type { Firewall, FirewallMode } from '../traffic/firewall.js';
import { FirewallReconciler } from '../traffic/firewall-reconciler.js';
import type { TrafficSpec } from '../traffic/traffic-rules.js';
import { blackholeGroup } from './blackhole-route.js';
import { LeaseTracker } from '../lease/lease-tracker.js';
import type { SubnetManager } from '../subnet/subnet-manager.js';
import { FlannelError, errorMessage } from '../support/errors.js';
import type { Logger } from '../support/logger.js';
import { Backoff, sleep } from '../support/timing.js';
import { type InterfaceSelectionOptions, selectExternalInterface } from './external-interface.js';

export interface KernelChangeSource {
  stop(): Promise<void>;
}

/** What the kernel watcher saw changed by someone (our own writes included; the reconciler sorts them out). */
export interface KernelChange {
  /** A route of ours was deleted. */
  readonly routes: boolean;
  /** Links or addresses changed. */
  readonly links: boolean;
  /** Devices that lost neighbour/FDB entries. */
  readonly neighbourLinks: readonly number[];
  /** Notifications were lost: re-read everything. */
  readonly overflow: boolean;
}

export interface DaemonDeps {
  readonly subnetManager: SubnetManager;
  readonly kernel: Kernel;
  readonly logger: Logger;
  readonly interfaceOptions: Omit<InterfaceSelectionOptions, 'enableIPv4' | 'enableIPv6'>;
  readonly ipMasq: boolean;
  /** Firewall implementations; the daemon uses the one the config selects and cleans up the other. */
  readonly firewalls?: Readonly<Record<FirewallMode, Firewall>>;
  readonly forwardRules?: boolean;
  readonly randomFullyDisabled?: boolean;
  readonly firewallResyncMs?: number;
  readonly blackholeRoute?: boolean;
  readonly renewMarginMs: number;
  readonly writeSubnetFile: (contents: string) => void;
  /** Called once, right after subnet.env is first written (flanneld then tells systemd READY=1); must not throw. */
  readonly onReady?: (lease: Lease) => void;
  /** Starts kernel notifications; `onChange` is called when our state may have been changed by someone else. */
  readonly watchKernel?: (onChange: (change: KernelChange) => void) => Promise<KernelChangeSource>;
  readonly configRetryMs?: number;
  readonly resyncIntervalMs?: number;
  readonly renewRetryMs?: number;
}

export class Daemon {
  private readyFlag = false;
  private currentLease: Lease | undefined;
  private reconcilerInstance: Reconciler | undefined;
  private readonly tracker = new LeaseTracker();
  private leaseLost = false;
  private wakeLeaseKeeper: (() => void) | undefined;

  constructor(private readonly deps: DaemonDeps) {}

  get ready(): boolean {
    return this.readyFlag;
  }

  get lease(): Lease | undefined {
    return this.currentLease;
  }

  /** Runs until `signal` aborts; throws FlannelError for fatal start-up problems. */
  async run(signal: AbortSignal): Promise<void> {
    const { logger, subnetManager } = this.deps;
    logger.info({ subnetManager: subnetManager.name }, 'created subnet manager');
    const config = await this.waitForConfig(signal);
    if (!config) return;
    const { externalInterface, notes } = await selectExternalInterface(this.deps.kernel, {
      ...this.deps.interfaceOptions, enableIPv4: config.enableIPv4, enableIPv6: config.enableIPv6,
    });
    for (const note of notes) logger.info(note);
    logExternalInterface(logger, externalInterface);
    const links = await this.deps.kernel.listLinks();
    const backend = backendFactory(config.backendType)({ config, externalInterface, links });
    logger.info({ backend: backend.type, mtu: backend.mtu, options: backend.options }, 'backend selected');

    const lease = await this.acquire(config, backend, undefined, signal);
    if (!lease) return;
    this.currentLease = lease;
    this.tracker.setOwn(lease);
    const firewall = await this.setUpFirewall(config);
    try {
      this.deps.writeSubnetFile(renderSubnetEnv(config, lease, backend.mtu, this.deps.ipMasq));
      this.readyFlag = true;
      logger.info({ subnet: lease.subnet.toString() }, 'flannel is ready');
      this.deps.onReady?.(lease);
    } catch (error) {
      // As upstream: keep routing for the pods that exist, stay not-ready (/readyz 503) so it gets noticed.
      logger.error({ err: errorMessage(error) }, 'failed to write subnet file; staying not ready');
    }

    const reconciler = new Reconciler({
      kernel: this.deps.kernel,
      logger: logger.child({ component: 'reconciler' }),
      plan: () => this.plan(backend),
      ...(this.deps.resyncIntervalMs === undefined ? {} : { resyncIntervalMs: this.deps.resyncIntervalMs }),
    });
    this.reconcilerInstance = reconciler;
    let firstSnapshot: () => void = () => undefined;
    const snapshotSeen = new Promise<void>((resolve) => (firstSnapshot = resolve));
    const tasks: Promise<unknown>[] = [
      this.followLeases(signal, reconciler, firstSnapshot),
      this.keepLease(config, backend, signal),
      ...(firewall ? [firewall.run(signal)] : []),
    ];
    await Promise.race([snapshotSeen, new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }))]);
    let kernelWatch: KernelChangeSource | undefined;
    if (!signal.aborted) {
      tasks.push(reconciler.run(signal));
      kernelWatch = await this.deps.watchKernel?.((change) => {
        if (change.overflow) return reconciler.markKernelChanged();
        const kinds: KernelKind[] = [];
        if (change.routes) kinds.push('routes');
        if (change.links) kinds.push('links');
        if (change.neighbourLinks.some((index) => reconciler.ownsLink(index))) kinds.push('neighbours');
        if (kinds.length > 0) reconciler.markKernelChanged(kinds);
      });
    }
    try {
      await Promise.all(tasks);
    } finally {
      await kernelWatch?.stop();
    }
    logger.info('exiting cleanly');
  }

  private blackhole: { lease: Lease; group: DesiredGroup } | undefined;

  private plan(backend: Backend): DesiredState {
    const lease = this.currentLease as Lease;
    const plan = backend.plan(lease, this.tracker.peers());
    if (!this.deps.blackholeRoute) return plan;
    // The same group object while the lease is the same, so the reconciler sees no change.
    if (this.blackhole?.lease !== lease) this.blackhole = { lease, group: blackholeGroup(lease) };
    return { ...plan, groups: [...plan.groups, this.blackhole.group] };
  }

  /**
   * Cleans up the firewall mode not selected, then installs our rules once (before ready, as upstream) and
   * returns the resync loop. Undefined when no firewall is configured (tests without one).
   */
  private async setUpFirewall(config: NetworkConfig): Promise<FirewallReconciler | undefined> {
    const firewalls = this.deps.firewalls;
    if (!firewalls) return undefined;
    const logger = this.deps.logger.child({ component: 'firewall' });
    const selected = firewalls[config.enableNFTables ? 'nftables' : 'iptables'];
    const other = firewalls[config.enableNFTables ? 'iptables' : 'nftables'];
    for (const family of [4, 6] as const) {
      await other.remove(family).catch((error: unknown) => logger.debug({ err: errorMessage(error), mode: other.mode }, 'nothing to clean up'));
    }
    const randomFully = !this.deps.randomFullyDisabled && (await selected.supportsRandomFully());
    if (!this.deps.randomFullyDisabled && !randomFully && this.deps.ipMasq) logger.warn({ mode: selected.mode }, 'fully random masquerade unsupported; using plain masquerade');
    const reconciler = new FirewallReconciler({
      firewall: selected,
      logger,
      resyncMs: this.deps.firewallResyncMs ?? 5000,
      specs: () => trafficSpecs(config, this.currentLease as Lease, { ipMasq: this.deps.ipMasq, forwardRules: this.deps.forwardRules ?? false, randomFully }),
    });
    await reconciler.pass();
    return reconciler;
  }

  private async waitForConfig(signal: AbortSignal): Promise<NetworkConfig | undefined> {
    const { logger, subnetManager } = this.deps;
    let lastLogMs = 0;
    while (!signal.aborted) {
      try {
        return await subnetManager.getNetworkConfig();
      } catch (error) {
        if (error instanceof FlannelError && !error.retryable && !error.code.startsWith('INVALID')) throw error;
        if (Date.now() - lastLogMs >= 10_000) {
          logger.warn({ err: errorMessage(error) }, "couldn't fetch network config; waiting for it (retrying every second)");
          lastLogMs = Date.now();
        }
        await sleep(this.deps.configRetryMs ?? 1000, signal);
      }
    }
    return undefined;
  }

  private async acquire(config: NetworkConfig, backend: Backend, prefer: Lease | undefined, signal: AbortSignal): Promise<Lease | undefined> {
    const backoff = new Backoff(1000, 30_000);
    while (!signal.aborted) {
      try {
        const preferred = prefer ? { subnet: prefer.subnet, ...(prefer.ipv6Subnet ? { ipv6Subnet: prefer.ipv6Subnet } : {}) } : undefined;
        return await this.deps.subnetManager.acquireLease(config, backend.leaseAttrs, preferred);
      } catch (error) {
        if (!(error instanceof FlannelError) || !error.retryable) throw error;
        this.deps.logger.warn({ err: error.message }, 'acquiring a lease failed; retrying');
        await sleep(backoff.next(), signal);
      }
    }
    return undefined;
  }

  private async followLeases(signal: AbortSignal, reconciler: Reconciler, firstSnapshot: () => void): Promise<void> {
    const logger = this.deps.logger.child({ component: 'leases' });
    const onMalformed = (entry: { key: string; reason: string }) =>
      logger.warn({ key: entry.key, reason: entry.reason }, 'ignoring malformed lease (peers keep their last good state)');
    for await (const result of this.deps.subnetManager.watchLeases(signal, onMalformed)) {
      const update = this.tracker.update(result);
      logger.debug({ kind: result.kind, size: result.kind === 'snapshot' ? result.leases.length : result.events.length, peersChanged: update.peersChanged }, 'leases');
      if (result.kind === 'snapshot') firstSnapshot();
      if (update.peersChanged) reconciler.markDirty();
      for (const event of update.own) {
        const ours = this.currentLease;
        const taken = event.type === 'added' && ours && !event.lease.attrs.publicIP.equals(ours.attrs.publicIP);
        if (event.type === 'removed' || taken) {
          logger.warn({ subnet: ours?.subnet.toString() }, taken ? 'our subnet key was overwritten by another host; re-acquiring' : 'our lease was deleted or expired; re-acquiring');
          this.leaseLost = true;
          this.wakeLeaseKeeper?.();
        }
      }
    }
  }

  /** Renews before expiry and re-acquires a lost lease; the only writer of `currentLease` after start. */
  private async keepLease(config: NetworkConfig, backend: Backend, signal: AbortSignal): Promise<void> {
    const logger = this.deps.logger.child({ component: 'lease-keeper' });
    while (!signal.aborted) {
      const lease = this.currentLease as Lease;
      const renewAtMs = (lease.expiresAtMs ?? Date.now()) - this.deps.renewMarginMs;
      if (!this.leaseLost) {
        const wake = new AbortController();
        this.wakeLeaseKeeper = () => wake.abort();
        const stop = () => wake.abort();
        signal.addEventListener('abort', stop, { once: true });
        await sleep(Math.max(0, renewAtMs - Date.now()), wake.signal);
        signal.removeEventListener('abort', stop);
        this.wakeLeaseKeeper = undefined;
        if (signal.aborted) break;
      }
      try {
        if (this.leaseLost) {
          this.leaseLost = false;
          const again = await this.acquire(config, backend, lease, signal);
          if (!again) break;
          this.adoptLease(again, config, backend, logger);
        } else if (Date.now() >= renewAtMs) {
          this.currentLease = await this.deps.subnetManager.renewLease(lease);
          logger.info({ expiresAt: new Date(this.currentLease.expiresAtMs ?? 0).toISOString() }, 'lease renewed');
        }
      } catch (error) {
        logger.warn({ err: errorMessage(error) }, 'error renewing lease; trying again in 1 min');
        await sleep(this.deps.renewRetryMs ?? 60_000, signal);
      }
    }
  }

  private adoptLease(lease: Lease, config: NetworkConfig, backend: Backend, logger: Logger): void {
    const previous = this.currentLease;
    this.currentLease = lease;
    if (previous && leaseKey(previous) === leaseKey(lease)) {
      logger.info({ subnet: lease.subnet.toString() }, 'lease re-acquired with the same subnet');
      return;
    }
    logger.error({ previous: previous?.subnet.toString(), subnet: lease.subnet.toString() }, 'lease re-acquired with a DIFFERENT subnet: existing pods keep old addresses until recreated');
    this.tracker.setOwn(lease);
    this.deps.writeSubnetFile(renderSubnetEnv(config, lease, backend.mtu, this.deps.ipMasq));
    this.reconcilerInstance?.markKernelChanged();
  }
}

/** The wanted firewall rules per enabled family. */
export function trafficSpecs(config: NetworkConfig, lease: Lease, features: { ipMasq: boolean; forwardRules: boolean; randomFully: boolean }): TrafficSpec[] {
  const specs: TrafficSpec[] = [];
  if (config.enableIPv4 && config.network && hasIpv4(lease)) specs.push({ family: 4, network: config.network, subnet: lease.subnet, ...features });
  if (config.enableIPv6 && config.ipv6Network && lease.ipv6Subnet) specs.push({ family: 6, network: config.ipv6Network, subnet: lease.ipv6Subnet, ...features });
  return specs;
}

function logExternalInterface(logger: Logger, ext: ExternalInterface): void {
  logger.info({
    iface: ext.name, ifaceAddr: ext.ifaceAddr?.toString(), ifaceV6Addr: ext.ifaceV6Addr?.toString(),
    publicIP: ext.extAddr?.toString(), publicIPv6: ext.extV6Addr?.toString(), mtu: ext.mtu,
  }, 'using interface');
}
