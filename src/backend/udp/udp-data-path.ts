/**
 * The udp backend's data path hook (Backend.runDataPath): runs the TUN/UDP forwarder (the `udpForwarder` port,
 * a worker thread in production) for the daemon's lifetime and keeps it fed.
 *
 * - Start: the forwarder opens the plan's TUN device and binds the interface address and Port, with the peers
 *   known by then; the device it made is announced (`devices.appeared`), so the reconciler gives it its
 *   address, MTU, up flag and the Network route at once. A port that cannot be bound fails the hook, and with
 *   it the daemon (as upstream exits).
 * - Peers: every lease change hands the whole admitted peer set over (peers' public IPs and our Port, as
 *   upstream); only the difference reaches the worker, between two batches, so a peer change never stalls
 *   packets. Peers it leaves out are logged when that list changes.
 * - Our subnet changed (lease lost and re-acquired elsewhere): the forwarder is started again, since its TUN
 *   address (the source of ICMP net-unreachable replies) and device address change with it.
 * - Device trouble: a device someone deleted is opened again by the forwarder and announced; while it cannot be
 *   (retried every second) the error is logged when it changes, not every second. A forwarder that dies
 *   (an error that is not retryable) fails the hook.
 * - Counters: published to the counter sink every `publishIntervalMs` (totals since the hook started, across
 *   restarts); drops are logged as they start (warning: unknown sources are someone knocking on the port), then
 *   at most every `dropLogIntervalMs` unless a reason not in the last line appears; every change of the
 *   counters at debug level (-v 1).
 * - Stop: when `signal` aborts, the forwarder stops (its device goes with its descriptor, as upstream's).
 */
import type { IpAddress } from '../../net/ip.js';
import { type Clock, systemClock } from '../../support/clock.js';
import { FlannelError, errorMessage } from '../../support/errors.js';
import { whenAborted } from '../../support/timing.js';
import type { DataPathContext, DataPathHook, LeaseSnapshot } from '../data-path.js';
import { type RunningUdpForwarder, type UdpForwarderPeer, requireAdapter } from '../data-path-ports.js';
import { UDP } from './udp-options.js';

export interface UdpDataPathSettings {
  /** The device's concrete name, as the plan names it. */
  readonly tunName: string;
  /** The interface address the socket binds (upstream binds the interface address, not the public IP). */
  readonly bindAddress: IpAddress;
  readonly port: number;
  readonly mtu: number;
  readonly clock?: Clock;
  /** Default 1 s. */
  readonly publishIntervalMs?: number;
  /** Default 10 s. */
  readonly dropLogIntervalMs?: number;
}

type Counters = Readonly<Record<string, number>>;

export function udpDataPath(settings: UdpDataPathSettings): DataPathHook {
  return (context, signal) => new UdpDataPathRun(settings, context).run(signal);
}

class UdpDataPathRun {
  readonly #settings: UdpDataPathSettings;
  readonly #context: DataPathContext;
  readonly #clock: Clock;
  /** Aborted by the outer signal or by a forwarder that died. */
  readonly #stop = new AbortController();
  #fatal: Error | undefined;
  #forwarder: RunningUdpForwarder | undefined;
  #subnet = '';
  /** Totals of forwarders stopped before the current one (a restart does not reset what we publish). */
  #base: Counters = {};
  #lastDeviceError = '';
  #leftOut = '';

  constructor(settings: UdpDataPathSettings, context: DataPathContext) {
    this.#settings = settings;
    this.#context = context;
    this.#clock = settings.clock ?? systemClock;
  }

  async run(signal: AbortSignal): Promise<void> {
    requireAdapter(this.#context.adapters, 'udpForwarder', UDP);
    const stop = () => this.#stop.abort();
    const detach = whenAborted(signal, stop);
    const inner = this.#stop.signal;
    try {
      await this.#start(this.#context.leases.current());
      const publishing = this.#publishLoop(inner);
      try {
        for await (const snapshot of this.#context.leases.changes(inner)) {
          if (snapshot.own.subnet.toString() !== this.#subnet) await this.#restart(snapshot);
          this.#setPeers(snapshot);
          this.#publish();
        }
      } finally {
        stop();
        await publishing;
      }
    } finally {
      detach();
      await this.#forwarder?.stop();
      this.#publish();
    }
    if (this.#fatal) throw this.#fatal;
  }

  async #start(snapshot: LeaseSnapshot): Promise<void> {
    const { tunName, bindAddress, port, mtu } = this.#settings;
    const { logger, devices } = this.#context;
    this.#subnet = snapshot.own.subnet.toString();
    this.#forwarder = await requireAdapter(this.#context.adapters, 'udpForwarder', UDP).start({
      tunName, tunAddress: snapshot.own.subnet.ip, bindAddress, port, mtu, peers: peersOf(snapshot),
      onDevice: (event) => {
        this.#lastDeviceError = '';
        logger.info({ device: event.name, index: event.index, reopened: event.reopened }, event.reopened ? 'udp device opened again' : 'udp device opened');
        devices.appeared(event.name);
      },
      onError: (error) => this.#forwarderError(error),
    });
    logger.info({ device: tunName, address: `${bindAddress}:${port}`, peers: snapshot.peers.length }, 'udp data path running');
  }

  async #restart(snapshot: LeaseSnapshot): Promise<void> {
    this.#context.logger.info({ from: this.#subnet, to: snapshot.own.subnet.toString() }, 'our subnet changed; restarting the udp data path');
    const previous = this.#forwarder;
    if (previous) {
      await previous.stop();
      this.#base = sum(this.#base, previous.counters());
      this.#context.devices.disappeared(this.#settings.tunName);
    }
    this.#forwarder = undefined;
    await this.#start(snapshot);
  }

  #setPeers(snapshot: LeaseSnapshot): void {
    const leftOut = this.#forwarder?.setPeers(peersOf(snapshot)) ?? [];
    const text = leftOut.join('; ');
    if (text !== this.#leftOut && leftOut.length > 0) this.#context.logger.warn({ peers: leftOut }, 'udp data path left peers out');
    this.#leftOut = text;
  }

  /** A device that cannot be reopened yet (retryable, logged when it changes) or a dead forwarder (fatal). */
  #forwarderError(error: Error): void {
    if (error instanceof FlannelError && error.retryable) {
      if (error.message === this.#lastDeviceError) return;
      if (this.#lastDeviceError === '') this.#context.devices.disappeared(this.#settings.tunName);
      this.#lastDeviceError = error.message;
      this.#context.logger.error({ device: this.#settings.tunName, err: error.message }, 'udp device gone and not opened again yet; retrying every second');
      return;
    }
    this.#fatal ??= error;
    this.#context.logger.error({ err: errorMessage(error) }, 'udp data path failed');
    this.#stop.abort();
  }

  async #publishLoop(signal: AbortSignal): Promise<void> {
    const { logger } = this.#context;
    const interval = this.#settings.publishIntervalMs ?? 1000;
    const dropInterval = this.#settings.dropLogIntervalMs ?? 10_000;
    let logged: Counters = {};
    let loggedAtMs = Number.NEGATIVE_INFINITY;
    let loggedReasons = new Set<string>();
    let previous: Counters = {};
    while (!signal.aborted) {
      await this.#clock.sleep(interval, signal);
      if (signal.aborted) return;
      const now = this.#publish();
      if (changed(now, previous) && logger.isLevelEnabled('debug')) logger.debug({ counters: now }, 'udp data path counters');
      previous = now;
      const drops = dropsSince(now, logged);
      const reasons = Object.keys(drops);
      if (reasons.length > 0 && (this.#clock.now() - loggedAtMs >= dropInterval || reasons.some((reason) => !loggedReasons.has(reason)))) {
        logger.warn({ drops, totals: dropsSince(now, {}) }, 'udp data path dropped packets');
        logged = now;
        loggedAtMs = this.#clock.now();
        loggedReasons = new Set(reasons);
      }
    }
  }

  #publish(): Counters {
    const counters = sum(this.#base, this.#forwarder?.counters() ?? {});
    this.#context.counters.publish(counters);
    return counters;
  }
}

function peersOf(snapshot: LeaseSnapshot): UdpForwarderPeer[] {
  return snapshot.peers.map((peer) => ({ subnet: peer.subnet, publicIp: peer.attrs.publicIP }));
}

function sum(a: Counters, b: Counters): Counters {
  const total: Record<string, number> = { ...a };
  for (const [name, value] of Object.entries(b)) total[name] = (total[name] ?? 0) + value;
  return total;
}

function changed(a: Counters, b: Counters): boolean {
  return Object.entries(a).some(([name, value]) => b[name] !== value);
}

/** Drop counters (`drop…`) that grew since `before`, by how much. */
function dropsSince(now: Counters, before: Counters): Record<string, number> {
  const drops: Record<string, number> = {};
  for (const [name, value] of Object.entries(now)) {
    const delta = value - (before[name] ?? 0);
    if (name.startsWith('drop') && delta > 0) drops[name] = delta;
  }
  return drops;
}
