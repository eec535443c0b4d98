/**
 * Unit-test scaffolding: a MemoryKernel host with an uplink, a Reconciler running for the length of a body, and
 * the kernel's notifications delivered to it as the kernel watcher would: in order, asynchronously (batched per
 * macrotask), without the reconciler's own tagged writes.
 */
import type { DesiredState } from '../../src/dataplane/desired-state.js';
import type { KernelEvent } from '../../src/dataplane/kernel.js';
import { MEMORY_KERNEL_PORT, MemoryKernel } from '../../src/dataplane/memory-kernel.js';
import { type Ownership, ownershipOf } from '../../src/dataplane/ownership.js';
import { type PassResult, Reconciler, type ReconcilerOptions } from '../../src/dataplane/reconciler.js';
import { Cidr } from '../../src/net/ip.js';
import { silentLogger } from '../../src/support/logger.js';

/** A kernel with `eth0` (index 2) at 198.18.0.11/24. */
export function hostKernel(): MemoryKernel {
  return new MemoryKernel().addLink({ index: 2, name: 'eth0', mtu: 1500, up: true }, [{ address: Cidr.parse('198.18.0.11/24'), scope: 0, flags: 0x80 }]);
}

/** The tests' networks: everything under 10/8 and fd00::/8. */
export const TEST_OWNERSHIP: Ownership = ownershipOf([Cidr.parse('10.0.0.0/8'), Cidr.parse('fd00::/8')]);

/**
 * The kernel's notifications on their way to a reconciler: queued as the kernel emits them, delivered in order
 * on a later macrotask (or at once by `flush()`); `paused` holds them back (a slow watcher).
 */
export class NotificationBridge {
  private queue: KernelEvent[] = [];
  private scheduled = false;
  paused = false;
  private readonly unsubscribe: () => void;

  /** `automatic`: deliver on a later macrotask by itself; otherwise only `flush`/`deliverSome` deliver. */
  constructor(kernel: MemoryKernel, private readonly deliver: (events: readonly KernelEvent[]) => void, ownPort = MEMORY_KERNEL_PORT, private readonly automatic = true) {
    this.unsubscribe = kernel.subscribe(({ origin, event }) => {
      if (origin === ownPort) return;
      this.queue.push(event);
      if (this.automatic) this.schedule();
    });
  }

  /** Notifications lost (the socket buffer overflowed): what is queued is dropped, an overflow is delivered. */
  overflow(): void {
    this.queue = [];
    this.deliver([{ kind: 'overflow' }]);
  }

  /** Delivers everything queued now (unless paused). */
  flush(): void {
    if (this.paused || this.queue.length === 0) return;
    const events = this.queue;
    this.queue = [];
    this.deliver(events);
  }

  /** Delivers only the first `count` queued events (a watcher that is behind). */
  deliverSome(count: number): void {
    const events = this.queue.splice(0, count);
    if (events.length > 0) this.deliver(events);
  }

  get queued(): number {
    return this.queue.length;
  }

  close(): void {
    this.unsubscribe();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }
}

export interface ReconcilerRig {
  readonly notifications: NotificationBridge;
}

/**
 * Runs a reconciler (resync far away unless given) while `body` runs, with notifications wired, and stops it
 * afterwards, also on failure.
 */
export async function withReconciler(
  kernel: MemoryKernel,
  plan: () => DesiredState,
  body: (reconciler: Reconciler, rig: ReconcilerRig) => Promise<void>,
  resyncIntervalMs = 60_000,
  options: Partial<ReconcilerOptions> = {},
): Promise<void> {
  const reconciler = new Reconciler({ kernel, plan, logger: silentLogger(), ownership: TEST_OWNERSHIP, resyncIntervalMs, ...options });
  const notifications = new NotificationBridge(kernel, (events) => reconciler.observe(events));
  const controller = new AbortController();
  const running = reconciler.run(controller.signal);
  try {
    await body(reconciler, { notifications });
  } finally {
    controller.abort();
    await running;
    notifications.close();
  }
}

/** Delivers pending notifications and waits for the reconciler to converge. */
export async function settle(reconciler: Reconciler, rig: ReconcilerRig): Promise<PassResult> {
  rig.notifications.flush();
  return reconciler.whenConverged();
}
