/**
 * flanneld's lifecycle over ports (reference §1.4): wait for the network config, read what the subnet manager
 * stored for this host (Kubernetes: the node's public IP and VTEP MACs), choose the external interface
 * and backend (refusing at start a backend whose devices the kernel would refuse), lease a subnet, follow
 * peers' leases — each checked against the network config, the backend and the others (PeerAdmission) — into
 * the reconciler, keep our lease (LeaseKeeper), write subnet.env once the backend's devices are in place
 * (retrying until written), and notice a config changed in the store.
 *
 * Ready means: the backend's devices are in place and subnet.env holds our current lease; the first time, the
 * subnet manager's completion step runs in the background (Kubernetes: NetworkUnavailable=False). The reconciler
 * starts only after the first full lease snapshot, so a restarted daemon never deletes routes to peers it has
 * not heard about yet; it deletes only what is ours (ownership.ts: our Networks' protocol-111 routes, our
 * devices), so a second flanneld serving another network on this host keeps its state. Kernel notifications
 * go to the reconciler as objects. A backend's data path (Backend.runDataPath) runs from the lease on, with
 * the ports in `dataPathAdapters`, the lease feed and a way to tell the reconciler about its devices; its
 * failure stops the daemon. On abort every loop ends and is awaited; kernel state is left in place so that
 * traffic keeps flowing across a restart.
 *
 * With `metrics` the daemon and its components count into them (daemon-observation.ts); it is the
 * StatusProvider of flanneld's status socket (daemon-status.ts) and tells datapath health what to probe.
 */
import type { Backend, BackendFactory, ExternalInterface } from '../backend/backend.js';
import { PeerGroupPlanner } from '../backend/peer-group-planner.js';
import type { DataPathHook, LeaseSnapshot } from '../backend/data-path.js';
import type { DataPathAdapters } from '../backend/data-path-ports.js';
import { backendFactory } from '../backend/backends.js';
import { renderSubnetEnv } from '../cni/subnet-env.js';
import type { NetworkConfig } from '../config/network-config.js';
import type { Kernel, KernelEvent, KernelEventSource } from '../dataplane/kernel.js';
import { ownershipOf } from '../dataplane/ownership.js';
import { Reconciler } from '../dataplane/reconciler.js';
import { type Lease, encodeLeaseAttrs, hasIpv4 } from '../lease/lease.js';
import type { DesiredGroup, DesiredState } from '../dataplane/desired-state.js';
import type { FlannelMetrics } from '../metrics/flannel-metrics.js';
import type { LeaseTable, StatusFacts, StatusProvider } from '../ops/status-document.js';
import type { Firewall, FirewallMode } from '../traffic/firewall.js';
import { FirewallReconciler } from '../traffic/firewall-reconciler.js';
import { overlayPortOf, peerAddresses } from '../traffic/ingress-rules.js';
import type { TrafficSpec } from '../traffic/traffic-rules.js';
import { blackholeGroup } from './blackhole-route.js';
import { LeaseTracker } from '../lease/lease-tracker.js';
import { type AdmissionReport, PeerAdmission } from '../lease/peer-admission.js';
import type { SubnetManager } from '../subnet/subnet-manager.js';
import { type Clock, systemClock } from '../support/clock.js';
import { FlannelError, errorMessage } from '../support/errors.js';
import type { Logger } from '../support/logger.js';
import { whenAborted } from '../support/timing.js';
import { watchNetworkConfig } from './config-watch.js';
import { DaemonObservation } from './daemon-observation.js';
import { type DaemonStatusInputs, type DaemonStatusParts, gatherStatusFacts, leaseTableOf } from './daemon-status.js';
import { type ProbeTargets, probeTargetsOf } from './probe-targets.js';
import { type InterfaceSelectionOptions, selectExternalInterface } from './external-interface.js';
import { LatestFeed } from './latest-feed.js';
import { type BackoffRange, LeaseKeeper } from './lease-keeper.js';
import { PeerChanges } from './peer-changes.js';
import { readStoredHostState } from './stored-host-state.js';
import { SubnetFileWriter } from './subnet-file-writer.js';

export interface DaemonDeps {
  readonly subnetManager: SubnetManager;
  readonly kernel: Kernel;
  readonly logger: Logger;
  readonly interfaceOptions: Omit<InterfaceSelectionOptions, 'enableIPv4' | 'enableIPv6'>;
  readonly ipMasq: boolean;
  /** Firewall implementations; the daemon uses the one the config selects and cleans up the other. */
  readonly firewalls?: Readonly<Record<FirewallMode, Firewall>>;
  readonly forwardRules?: boolean;
  /** `--overlay-ingress-filter`: overlay UDP only from peers' public IPs. */
  readonly overlayIngressFilter?: boolean;
  readonly randomFullyDisabled?: boolean;
  readonly firewallResyncMs?: number;
  readonly blackholeRoute?: boolean;
  readonly renewMarginMs: number;
  readonly writeSubnetFile: (contents: string) => void;
  /** Called once, when flanneld first becomes ready (devices in place, subnet.env written): systemd READY=1; must not throw. */
  readonly onReady?: (lease: Lease) => void;
  /** Starts kernel notifications: `onEvents` hears the objects that changed (see KernelEvent). */
  readonly watchKernel?: (onEvents: (events: readonly KernelEvent[]) => void) => Promise<KernelEventSource>;
  /** The ports a backend's data path may need (udp forwarder, wireguard…), from the composition root. */
  readonly dataPathAdapters?: DataPathAdapters;
  /** The backend factory for a Backend.Type (default: the explicit map in backends.ts; tests pass their own). */
  readonly backendFactory?: (type: string) => BackendFactory;
  readonly configRetryMs?: number;
  readonly resyncIntervalMs?: number;
  readonly renewRetryMs?: number;
  /** Backoff between failed subnet.env writes (default 1 s doubling to 30 s). */
  readonly subnetFileRetry?: BackoffRange;
  /** How often the config in the store is compared with the running one (default 60 s). */
  readonly configCheckIntervalMs?: number;
  readonly clock?: Clock;
  /** Where the daemon and its components count (absent: nowhere). */
  readonly metrics?: FlannelMetrics;
  /** What the status socket needs from outside the daemon (absent: status shows defaults for it). */
  readonly status?: DaemonStatusInputs;
}

/** What the daemon counts (exposed for a metrics endpoint). */
export interface DaemonCounters {
  /** Peer lease rejections logged since start (each distinct reason of each lease once). */
  readonly leasesRejected: number;
  /** Peer leases rejected right now. */
  readonly leasesRejectedNow: number;
}

export class Daemon implements StatusProvider {
  private readyFlag = false;
  /** onReady is called the first time we become ready only (systemd's READY=1 is sent once). */
  private readyNotified = false;
  /** Whether the backend's devices are in place, as of the last reconcile pass (undefined before the first). */
  private devicesInPlace: boolean | undefined;
  private keeper: LeaseKeeper | undefined;
  private admission: PeerAdmission | undefined;
  private subnetFile: SubnetFileWriter | undefined;
  private reconcilerInstance: Reconciler | undefined;
  private publishedCounters: Readonly<Record<string, number>> = {};
  private readonly leaseFeed = new LatestFeed<LeaseSnapshot>(() => ({ own: this.lease as Lease, peers: this.admission?.peers() ?? [], complete: this.leasesSeen }));
  private devicesPresent: ReadonlyMap<string, number> = new Map();
  private readonly devicesFeed = new LatestFeed(() => this.devicesPresent);
  private readonly tracker = new LeaseTracker();
  private readonly clock: Clock;
  private readonly observation: DaemonObservation;
  /** What status reads of the running daemon, filled in as start-up gets there. */
  private running: Pick<DaemonStatusParts, 'config' | 'backend' | 'reconciler' | 'firewall'> = {};

  constructor(private readonly deps: DaemonDeps) {
    this.clock = deps.clock ?? systemClock;
    this.observation = new DaemonObservation(deps.metrics, this.clock);
    this.observation.collect({
      peers: () => this.admission && { admitted: this.admission.peers().length, rejected: this.admission.rejectedNow },
      ownLease: () => this.lease,
      ready: () => this.readyFlag,
      dataPath: () => (this.running.backend?.runDataPath ? { backend: this.running.backend.type, counters: this.publishedCounters } : undefined),
    });
  }

  get ready(): boolean {
    return this.readyFlag;
  }

  get lease(): Lease | undefined {
    return this.keeper?.lease;
  }

  get counters(): DaemonCounters {
    return { leasesRejected: this.admission?.rejectionsReported ?? 0, leasesRejectedNow: this.admission?.rejectedNow ?? 0 };
  }

  /** The backend's data path counters, as it last published them (empty without a data path). */
  get dataPathCounters(): Readonly<Record<string, number>> {
    return this.publishedCounters;
  }

  /** Runs until `outer` aborts; throws FlannelError for fatal start-up problems and for a failed data path. */
  async run(outer: AbortSignal): Promise<void> {
    // Our own signal, so that a failed data path can stop every other loop before run() rethrows its error.
    const controller = new AbortController();
    const signal = controller.signal;
    const detach = whenAborted(outer, () => controller.abort());
    try {
      await this.runUntil(signal, controller);
    } finally {
      detach();
    }
  }

  private async runUntil(signal: AbortSignal, controller: AbortController): Promise<void> {
    this.signal = signal;
    const { logger, subnetManager } = this.deps;
    logger.info({ subnetManager: subnetManager.name }, 'created subnet manager');
    const config = await this.waitForConfig(signal);
    if (!config) return;
    const flags = this.deps.interfaceOptions;
    const stored = await readStoredHostState({ subnetManager, publicAddresses: { publicIP: flags.publicIP, publicIPv6: flags.publicIPv6 }, logger, clock: this.clock, signal });
    if (!stored) return;
    const { externalInterface, notes } = await selectExternalInterface(this.deps.kernel, {
      ...this.deps.interfaceOptions, ...stored.publicAddresses, enableIPv4: config.enableIPv4, enableIPv6: config.enableIPv6,
    });
    for (const note of notes) logger.info(note);
    logExternalInterface(logger, externalInterface);
    const links = await this.deps.kernel.listLinks();
    const adapters = this.deps.dataPathAdapters ?? {};
    const backend = (this.deps.backendFactory ?? backendFactory)(config.backendType)({ config, externalInterface, links, storedVtepMacs: stored.vtepMacs, adapters });
    logger.info({ backend: backend.type, mtu: backend.mtu, options: backend.options }, 'backend selected');
    const leaseAttrs = backend.prepareLease ? await backend.prepareLease({ adapters, logger: logger.child({ component: 'backend' }) }, signal) : backend.leaseAttrs;
    if (signal.aborted) return;
    this.running = { config, backend };

    const keeper = new LeaseKeeper({
      subnetManager: this.observation.countRenewals(subnetManager), config, attrs: leaseAttrs, logger: logger.child({ component: 'lease-keeper' }),
      renewMarginMs: this.deps.renewMarginMs, clock: this.clock,
      ...(this.deps.renewRetryMs === undefined ? {} : { renewRetryMs: this.deps.renewRetryMs }),
      onSubnetChange: (lease) => this.subnetChanged(lease, config, backend),
      // Kubernetes mode: a Node deleted and registered again has lost the NetworkUnavailable condition too.
      onReacquired: (lease) => this.completeAgain(lease),
    });
    this.keeper = keeper;
    const lease = await keeper.acquire(signal);
    if (!lease) return;
    const { publicIP, publicIPv6 } = leaseAttrs;
    this.admission = new PeerAdmission({
      config,
      ownPublicIPs: [...(publicIP.isUnspecified() ? [] : [publicIP]), ...(publicIPv6 ? [publicIPv6] : [])],
      ...(backend.checkPeer ? { checkBackend: (peer: Lease) => backend.checkPeer?.(peer) } : {}),
    });
    this.setOwn(lease);
    const firewall = await this.setUpFirewall(config);
    const subnetFile = new SubnetFileWriter({
      write: this.deps.writeSubnetFile, logger, clock: this.clock, onWritten: () => this.updateReadiness(),
      ...(this.deps.subnetFileRetry ? { retry: this.deps.subnetFileRetry } : {}),
    });
    this.subnetFile = subnetFile;

    const reconciler = new Reconciler({
      kernel: this.deps.kernel,
      logger: logger.child({ component: 'reconciler' }),
      ownership: ownershipOf([config.enableIPv4 ? config.network : undefined, config.enableIPv6 ? config.ipv6Network : undefined]),
      plan: () => this.plan(backend),
      onDeviceState: (notInPlace) => this.devicesChanged(notInPlace, config, backend),
      onDevicesPresent: (present) => {
        this.devicesPresent = present;
        this.devicesFeed.changed();
      },
      ...(this.deps.resyncIntervalMs === undefined ? {} : { resyncIntervalMs: this.deps.resyncIntervalMs }),
      ...(this.deps.metrics ? { metrics: this.deps.metrics.reconcile } : {}),
      ...(this.observation.passObserver ? { observer: this.observation.passObserver } : {}),
    });
    this.reconcilerInstance = reconciler;
    this.running = { ...this.running, reconciler };
    let firstSnapshot: () => void = () => undefined;
    const snapshotSeen = new Promise<void>((resolve) => (firstSnapshot = resolve));
    const tasks: Promise<unknown>[] = [
      this.followLeases(signal, reconciler, firstSnapshot),
      keeper.run(signal),
      subnetFile.run(signal),
      watchNetworkConfig({
        subnetManager, running: config, logger: logger.child({ component: 'config' }), clock: this.clock,
        intervalMs: this.deps.configCheckIntervalMs ?? 60_000,
      }, signal),
      ...(firewall ? [firewall.run(signal)] : []),
    ];
    let dataPathFailure: unknown;
    if (backend.runDataPath) {
      tasks.push(this.runDataPath(backend.runDataPath, reconciler, signal).catch((error: unknown) => {
        dataPathFailure = error;
        logger.error({ err: errorMessage(error) }, 'the data path failed; stopping');
        controller.abort();
      }));
    }
    await Promise.race([snapshotSeen, new Promise<void>((resolve) => whenAborted(signal, resolve))]);
    let kernelWatch: KernelEventSource | undefined;
    if (!signal.aborted) {
      tasks.push(reconciler.run(signal));
      kernelWatch = await this.deps.watchKernel?.((events) => reconciler.observe(events));
    }
    try {
      await Promise.all(tasks);
    } finally {
      await kernelWatch?.stop();
      await this.completion;
    }
    if (dataPathFailure !== undefined) throw dataPathFailure;
    logger.info('exiting cleanly');
  }

  /** StatusProvider: the facts of `flannelctl status` (reads the kernel and subnet.env). */
  statusFacts(): Promise<StatusFacts> {
    return gatherStatusFacts(this.deps.status, this.statusParts());
  }

  /** StatusProvider: our lease, the admitted peers and the rejected ones (for `flannelctl trace` and `doctor`). */
  leases(): LeaseTable {
    return leaseTableOf(this.statusParts());
  }

  /** What datapath health probes: our lease with the overlay's parameters, and the admitted peers. */
  probeTargets(): ProbeTargets | undefined {
    return probeTargetsOf(this.statusParts());
  }

  private statusParts(): DaemonStatusParts {
    const { lease, admission } = this;
    return {
      ...this.running, ready: this.readyFlag, subnetManager: this.deps.subnetManager.name, kernel: this.deps.kernel, tracker: this.tracker, ipMasq: this.deps.ipMasq,
      ...(lease ? { lease } : {}), ...(admission ? { admission } : {}),
    };
  }

  /** The backend's data path with its context (data-path.ts); its devices' comings and goings wake the reconciler. */
  private runDataPath(hook: DataPathHook, reconciler: Reconciler, signal: AbortSignal): Promise<void> {
    const logger = this.deps.logger.child({ component: 'data-path' });
    const deviceChanged = (device: string, state: string) => {
      logger.info({ device, state }, 'data path device changed');
      reconciler.requestResync();
    };
    return hook({
      adapters: this.deps.dataPathAdapters ?? {},
      leases: this.leaseFeed,
      devices: { present: this.devicesFeed, appeared: (name) => deviceChanged(name, 'appeared'), disappeared: (name) => deviceChanged(name, 'disappeared') },
      logger,
      counters: { publish: (counters) => void (this.publishedCounters = counters) },
    }, signal);
  }

  private blackhole: { lease: Lease; group: DesiredGroup } | undefined;
  /** The blackhole route's group among the peers' groups: no admission key looks like this. */
  private static readonly BLACKHOLE_GROUP = '(blackhole route)';
  /** The incremental plan, for a backend that plans peer by peer (its groups are what the reconciler follows). */
  private peerPlanner: PeerGroupPlanner | undefined;

  /**
   * The desired state. A backend that plans peer by peer gets only the peers admission touched since the last
   * plan re-planned (O(changed peers)); others plan in full. The blackhole route rides along as one more group.
   */
  private plan(backend: Backend): DesiredState {
    const lease = this.lease as Lease;
    // The same group object while the lease is the same, so the reconciler sees no change.
    if (this.deps.blackholeRoute && this.blackhole?.lease !== lease) this.blackhole = { lease, group: blackholeGroup(lease) };
    const planning = backend.peerPlanning;
    if (!planning) {
      this.replanPeers.clear();
      const plan = backend.plan(lease, (this.admission as PeerAdmission).peers());
      return this.blackhole ? { ...plan, groups: [...plan.groups, this.blackhole.group] } : plan;
    }
    const admission = this.admission as PeerAdmission;
    if (!this.peerPlanner) {
      this.peerPlanner = new PeerGroupPlanner(planning);
      this.peerPlanner.update(admission.admittedEntries());
    } else {
      // A planner that throws leaves its state as it was (see update): the same keys are tried again next time.
      this.peerPlanner.update([...this.replanPeers].map((key) => [key, admission.admittedLease(key)] as const));
    }
    this.replanPeers.clear();
    const groups = this.peerPlanner.groups;
    groups.set(Daemon.BLACKHOLE_GROUP, this.blackhole?.group);
    return { ...planning.base(lease), groups, warnings: this.peerPlanner.warnings() };
  }

  /** The backend's devices are in place (or not, listed): subnet.env is written once they are; readiness follows. */
  private devicesChanged(notInPlace: readonly string[], config: NetworkConfig, backend: Backend): void {
    const inPlace = notInPlace.length === 0;
    if (inPlace !== this.devicesInPlace) {
      this.devicesInPlace = inPlace;
      if (inPlace) this.publishSubnetFile(config, backend);
      else this.deps.logger.error({ devices: notInPlace }, 'backend devices are not in place; not ready until the reconciler gets them created');
    }
    this.updateReadiness();
  }

  private publishSubnetFile(config: NetworkConfig, backend: Backend): void {
    this.subnetFile?.publish(renderSubnetEnv(config, this.lease as Lease, backend.mtu, this.deps.ipMasq));
  }

  private updateReadiness(): void {
    const ready = this.devicesInPlace === true && (this.subnetFile?.upToDate ?? false);
    if (ready === this.readyFlag) return;
    this.readyFlag = ready;
    if (!ready) return this.deps.logger.warn('flannel is not ready');
    this.deps.logger.info({ subnet: this.lease?.subnet.toString() }, 'flannel is ready');
    if (!this.readyNotified && this.lease) {
      this.readyNotified = true;
      this.deps.onReady?.(this.lease);
      this.completion = this.completeLease(this.lease);
    }
  }

  private signal: AbortSignal | undefined;
  /** The subnet manager's last start-up step, running in the background once ready (awaited on shutdown). */
  private completion: Promise<void> | undefined;

  /**
   * Upstream's CompleteLease, after the backend runs and subnet.env is written (Kubernetes mode: the node's
   * NetworkUnavailable=False). The subnet manager retries what can be retried; anything else is logged and the
   * daemon carries on, routing as before.
   */
  private async completeLease(lease: Lease): Promise<void> {
    const { subnetManager, logger } = this.deps;
    if (!subnetManager.completeLease || !this.signal) return;
    try {
      await subnetManager.completeLease(lease, this.signal);
    } catch (error) {
      logger.error({ err: errorMessage(error) }, 'completing the lease failed; carrying on without it');
    }
  }

  /** After a re-acquisition: the subnet manager's completion again, once the first one (if any) is done. */
  private completeAgain(lease: Lease): void {
    if (!this.readyNotified) return;
    const previous = this.completion ?? Promise.resolve();
    this.completion = previous.then(() => this.completeLease(lease));
  }

  /** Our lease (first, or re-acquired with a different subnet) is excluded from peers and wins every overlap. */
  private setOwn(lease: Lease): void {
    const logger = this.deps.logger.child({ component: 'leases' });
    const admission = this.admission as PeerAdmission;
    const dropped = this.tracker.setOwn(lease);
    const changed = [admission.update(dropped.map((key) => [key, undefined] as const)), admission.setOwn(lease)].map((report) => this.logAdmission(report, logger));
    if (changed.some(Boolean)) {
      this.reconcilerInstance?.markDirty();
      this.firewall?.markDirty();
    }
    this.leaseFeed.changed();
  }

  private subnetChanged(lease: Lease, config: NetworkConfig, backend: Backend): void {
    this.setOwn(lease);
    if (this.devicesInPlace) this.publishSubnetFile(config, backend);
    this.updateReadiness();
    this.reconcilerInstance?.requestResync();
  }

  /**
   * Logs what admission decided (each rejection once, with the field and value) and, when the admitted peers
   * changed, a line per peer added, removed or changed (its subnet, public IP, and what changed); true when
   * peers changed.
   */
  private logAdmission(report: AdmissionReport, logger: Logger): boolean {
    for (const { key, problem } of report.rejected) {
      logger.warn({ key, field: problem.field, value: problem.value, reason: problem.reason }, 'rejecting peer lease');
      this.observation.rejected(problem.field);
    }
    for (const key of report.readmitted) logger.info({ key }, 'peer lease accepted after having been rejected');
    const admission = this.admission as PeerAdmission;
    const touched = new Set(report.touched);
    for (const key of touched) this.replanPeers.add(key);
    if (report.changed) {
      for (const change of this.peerChanges.apply([...touched].map((key) => [key, admission.admittedLease(key)] as const))) {
        const { attrs } = change.lease;
        logger.info({
          subnet: change.lease.subnet.toString(), ipv6Subnet: change.lease.ipv6Subnet?.toString(),
          publicIP: attrs.publicIP.toString(), publicIPv6: attrs.publicIPv6?.toString(), backend: attrs.backendType || undefined,
          ...(change.kind === 'changed' ? { changes: change.changes.join('; ') } : {}),
        }, `peer ${change.kind}`);
      }
    }
    return report.changed;
  }

  /** The admitted peers as last logged, by admission key. */
  private readonly peerChanges = new PeerChanges();
  /** Admission keys whose admitted lease changed since the last plan (for a backend that plans peer by peer). */
  private readonly replanPeers = new Set<string>();

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
    const port = this.deps.overlayIngressFilter ? overlayPortOf(config) : undefined;
    if (this.deps.overlayIngressFilter && port === undefined) logger.warn({ backend: config.backendType }, 'the overlay ingress filter has no effect: this backend sends no overlay UDP');
    const reconciler = new FirewallReconciler({
      firewall: selected,
      logger,
      resyncMs: this.deps.firewallResyncMs ?? 5000,
      ...(this.deps.metrics ? { metrics: this.deps.metrics.firewall } : {}),
      // The filter admits only peers that passed lease admission (a bad lease opens nothing).
      specs: () => trafficSpecs(config, this.lease as Lease, { ipMasq: this.deps.ipMasq, forwardRules: this.deps.forwardRules ?? false, randomFully },
        port === undefined ? undefined : { port, ...(this.leasesSeen ? { peers: (this.admission as PeerAdmission).peers() } : {}) }),
    });
    this.firewall = reconciler;
    const facts = { mode: selected.mode, ipMasq: this.deps.ipMasq, forwardRules: this.deps.forwardRules ?? false, ingressFilter: port !== undefined };
    this.running = { ...this.running, firewall: { reconciler, facts } };
    await reconciler.pass();
    return reconciler;
  }

  /** The firewall reconciler, woken when peers change (the ingress filter follows them). */
  private firewall: FirewallReconciler | undefined;
  private leasesSeen = false;

  private async waitForConfig(signal: AbortSignal): Promise<NetworkConfig | undefined> {
    const { logger, subnetManager } = this.deps;
    let lastLogMs = 0;
    while (!signal.aborted) {
      try {
        return await subnetManager.getNetworkConfig();
      } catch (error) {
        if (error instanceof FlannelError && !error.retryable && !error.code.startsWith('INVALID')) throw error;
        if (this.clock.now() - lastLogMs >= 10_000) {
          logger.warn({ err: errorMessage(error) }, "couldn't fetch network config; waiting for it (retrying every second)");
          lastLogMs = this.clock.now();
        }
        await this.clock.sleep(this.deps.configRetryMs ?? 1000, signal);
      }
    }
    return undefined;
  }

  private async followLeases(signal: AbortSignal, reconciler: Reconciler, firstSnapshot: () => void): Promise<void> {
    const logger = this.deps.logger.child({ component: 'leases' });
    const onMalformed = (entry: { key: string; reason: string }) =>
      logger.warn({ key: entry.key, reason: entry.reason }, 'ignoring malformed lease (peers keep their last good state)');
    const admission = this.admission as PeerAdmission;
    const keeper = this.keeper as LeaseKeeper;
    for await (const result of this.deps.subnetManager.watchLeases(signal, onMalformed)) {
      const knownBefore = this.observation.knownBefore(result, this.tracker);
      const update = this.tracker.update(result);
      logger.debug({ kind: result.kind, size: result.kind === 'snapshot' ? result.leases.length : result.events.length, changed: update.changed.length }, 'leases');
      if (result.kind === 'snapshot') firstSnapshot();
      const peersChanged = this.logAdmission(admission.update(update.changed.map((key) => [key, this.tracker.get(key)] as const)), logger);
      this.observation.leasesChanged(result, update.changed, knownBefore, (key) => this.tracker.get(key) !== undefined, peersChanged);
      const firstListing = result.kind === 'snapshot' && !this.leasesSeen;
      this.leasesSeen ||= result.kind === 'snapshot';
      if (peersChanged) reconciler.markDirty();
      // The data path waits for the first full listing (a restarted flanneld must not drop live peers before it).
      if (peersChanged || firstListing) this.leaseFeed.changed();
      // Only the ingress filter depends on peers: waking the firewall for nothing costs an iptables-save per event.
      if (this.deps.overlayIngressFilter && (peersChanged || firstListing)) this.firewall?.markDirty();
      for (const event of update.own) {
        const ours = keeper.lease as Lease;
        if (event.type === 'removed') {
          logger.warn({ subnet: ours.subnet.toString() }, 'our lease was deleted or expired; re-acquiring');
          keeper.lost();
        } else if (encodeLeaseAttrs(event.lease.attrs) !== encodeLeaseAttrs(ours.attrs)) {
          keeper.overwritten(event.lease);
        }
      }
    }
  }
}

/**
 * The wanted firewall rules per enabled family. With `ingress`, overlay UDP to `port` is accepted only from the
 * peers' public addresses of that family (peers undefined: not known yet, see FirewallReconciler).
 */
export function trafficSpecs(
  config: NetworkConfig,
  lease: Lease,
  features: { ipMasq: boolean; forwardRules: boolean; randomFully: boolean },
  ingress?: { port: number; peers?: readonly Lease[] },
): TrafficSpec[] {
  const filter = (family: 4 | 6) => ingress && {
    ingress: {
      protocol: 'udp' as const,
      port: ingress.port,
      ...(ingress.peers ? { peers: peerAddresses(ingress.peers.map((peer) => (family === 4 ? peer.attrs.publicIP : peer.attrs.publicIPv6)), family) } : {}),
    },
  };
  const specs: TrafficSpec[] = [];
  if (config.enableIPv4 && config.network && hasIpv4(lease)) specs.push({ family: 4, network: config.network, subnet: lease.subnet, ...features, ...filter(4) });
  if (config.enableIPv6 && config.ipv6Network && lease.ipv6Subnet) specs.push({ family: 6, network: config.ipv6Network, subnet: lease.ipv6Subnet, ...features, ...filter(6) });
  return specs;
}

function logExternalInterface(logger: Logger, ext: ExternalInterface): void {
  logger.info({
    iface: ext.name, ifaceAddr: ext.ifaceAddr?.toString(), ifaceV6Addr: ext.ifaceV6Addr?.toString(),
    publicIP: ext.extAddr?.toString(), publicIPv6: ext.extV6Addr?.toString(), mtu: ext.mtu,
  }, 'using interface');
}
