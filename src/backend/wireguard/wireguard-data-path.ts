/**
 * The wireguard backend's data path (Backend.runDataPath): keeps every WireGuard device's key, listen port and
 * peers as the plan says, through the WireguardPort of the chosen implementation, for the daemon's lifetime.
 * Peers are desired state like routes: each pass reads the devices back and repairs what differs
 * (WireguardSync) — a peer someone removed (`wg set flannel-wg peer … remove`) comes back, a peer nobody asked
 * for goes, a device that came back empty (wireguard-go restarted, kernel link re-created by the reconciler)
 * is configured again.
 *
 * Passes start once the first full listing of peer leases arrived (before, a pass would remove the live peers
 * of a device that survived a flanneld restart). A pass runs when our lease or the peers change, when the plan's devices appear or change index (the
 * reconciler's `devices.present`), when wireguard-go comes up or exits, and every `resyncMs` (default 2 s):
 * neither the kernel nor wireguard-go notifies peer changes, so that interval bounds how long drift lasts. A
 * read-back costs one UAPI round trip or one genetlink dump per device.
 *
 * Userspace: one supervised wireguard-go per device (WireguardPort.runUserspace); it creates the device as a
 * TUN, which the reconciler waits for and then gives its MTU, address, up flag and route. Kernel: the
 * reconciler creates the link; this path only configures it. Routes and addresses are never touched here.
 *
 * Failures are logged (once per distinct error) and retried on the next pass; the hook returns once `signal`
 * aborts and the wireguard-go processes it started have stopped.
 */
import { Alarm, type Clock, systemClock } from '../../support/clock.js';
import type { Logger } from '../../support/logger.js';
import { whenAborted } from '../../support/timing.js';
import type { DataPathContext, DataPathHook } from '../data-path.js';
import { type LoadedWireguardKey, requireAdapter } from '../data-path-ports.js';
import type { WireguardDeviceState } from './wireguard-control.js';
import { countPass, newWireguardTotals, wireguardCounters } from './wireguard-counters.js';
import type { ChosenWireguardImplementation } from './wireguard-implementation.js';
import { WIREGUARD } from './wireguard-options.js';
import type { WireguardPlanner } from './wireguard-planner.js';
import { type WireguardDeviceSyncResult, WireguardSync } from './wireguard-sync.js';

export const WIREGUARD_RESYNC_MS = 2000;
/** At most this many differences of one device are logged per pass (the count is always complete). */
const LOGGED_DIFFERENCES = 20;

export interface WireguardDataPathSetup {
  readonly planner: WireguardPlanner;
  readonly implementation: ChosenWireguardImplementation;
  /** The wireguard-go binary (userspace). */
  readonly userspaceCommand?: string;
  readonly key: LoadedWireguardKey;
  readonly resyncMs?: number;
  /** Wall-clock time for handshake ages and the roaming rule (default the system clock). */
  readonly clock?: Clock;
}

export function wireguardDataPath(setup: WireguardDataPathSetup): DataPathHook {
  return (context, signal) => runWireguardDataPath(setup, context, signal);
}

async function runWireguardDataPath(setup: WireguardDataPathSetup, context: DataPathContext, outer: AbortSignal): Promise<void> {
  // One listener on the daemon's signal; our own waiters (feeds, supervisors, the pass loop) hang on this one.
  const local = new AbortController();
  const detach = whenAborted(outer, () => local.abort());
  try {
    await runUntil(setup, context, local.signal);
  } finally {
    detach();
  }
}

async function runUntil(setup: WireguardDataPathSetup, context: DataPathContext, signal: AbortSignal): Promise<void> {
  const { planner, implementation, key } = setup;
  const { logger } = context;
  const clock = setup.clock ?? systemClock;
  const port = requireAdapter(context.adapters, 'wireguard', WIREGUARD);
  const names = planner.devices.map((device) => device.name);
  logger.info({
    implementation, devices: names, ...(implementation === 'userspace' ? { wireguardGo: setup.userspaceCommand } : {}),
    keyFile: key.path, keyCreated: key.created, publicKey: planner.publicKey.toString(),
  }, 'wireguard implementation');
  for (const warning of key.warnings) logger.warn({ keyFile: key.path }, warning);

  const sync = new WireguardSync(port.control(implementation));
  const wakeup = new Wakeup();
  const totals = newWireguardTotals();
  const tasks: Array<Promise<unknown>> = [follow(context.leases.changes(signal), wakeup), follow(context.devices.present.changes(signal), wakeup)];
  if (implementation === 'userspace') {
    const command = setup.userspaceCommand ?? 'wireguard-go';
    for (const device of names) {
      tasks.push(port.runUserspace({
        device, command, logger: logger.child({ device }),
        onReady: () => {
          totals.wireguardGoStarts++;
          context.devices.appeared(device);
          wakeup.fire();
        },
        onExit: () => {
          context.devices.disappeared(device);
          wakeup.fire();
        },
      }, signal));
    }
  }
  const reporter = new SyncReporter(logger);
  while (!signal.aborted) {
    const { own, peers, complete } = context.leases.current();
    if (!complete) {
      // Peers not all known yet: a pass now would remove live peers of a device we adopted.
      await wakeup.wait(setup.resyncMs ?? WIREGUARD_RESYNC_MS, signal);
      continue;
    }
    const plan = planner.plan(own, peers);
    const results = await sync.sync(plan.devices, plan.groups.flatMap((group) => group.wireguardPeers), clock.now());
    countPass(totals, results);
    reporter.report(results);
    const observed = results.flatMap((result): WireguardDeviceState[] => (result.observed ? [result.observed] : []));
    context.counters.publish(wireguardCounters(totals, observed, clock.now()));
    await wakeup.wait(setup.resyncMs ?? WIREGUARD_RESYNC_MS, signal);
  }
  await Promise.all(tasks);
}

/** Wakes the pass loop on every value of `feed` (the feed ends when the daemon's signal aborts). */
async function follow(feed: AsyncIterable<unknown>, wakeup: Wakeup): Promise<void> {
  for await (const _value of feed) wakeup.fire();
}

/** Logs what a pass did: repairs at info, a failure once until it changes, a device waited for once. */
class SyncReporter {
  private readonly lastProblem = new Map<string, string>();

  constructor(private readonly logger: Logger) {}

  report(results: readonly WireguardDeviceSyncResult[]): void {
    for (const result of results) {
      const problem = result.outcome === 'failed' ? `failed: ${result.error?.message ?? 'unknown error'}` : result.outcome === 'missing' ? 'missing' : '';
      const before = this.lastProblem.get(result.device) ?? '';
      if (problem !== before) {
        if (result.outcome === 'failed') this.logger.warn({ device: result.device, err: result.error?.message, differences: result.differences.slice(0, LOGGED_DIFFERENCES) }, 'wireguard device not configured; will retry');
        else if (result.outcome === 'missing') this.logger.info({ device: result.device }, 'waiting for the wireguard device');
        else if (before !== '' && result.outcome === 'in-sync') this.logger.info({ device: result.device }, 'wireguard device back in sync');
        this.lastProblem.set(result.device, problem);
      }
      if (result.outcome === 'changed') {
        this.logger.info({ device: result.device, changes: result.differences.length, differences: result.differences.slice(0, LOGGED_DIFFERENCES) }, 'wireguard device configured');
      }
    }
  }
}

/** A wait that ends early when fired; a fire while nobody waits makes the next wait return at once. */
class Wakeup {
  private pending = false;
  private readonly alarm = new Alarm();

  fire(): void {
    this.pending = true;
    this.alarm.wake();
  }

  async wait(ms: number, signal: AbortSignal): Promise<void> {
    if (!this.pending) await this.alarm.sleep(ms, signal);
    this.pending = false;
  }
}
