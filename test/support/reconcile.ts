/** Unit-test scaffolding: a MemoryKernel host with an uplink, and a Reconciler running for the length of a body. */
import type { DesiredState } from '../../src/dataplane/desired-state.js';
import { MemoryKernel } from '../../src/dataplane/memory-kernel.js';
import { Reconciler } from '../../src/dataplane/reconciler.js';
import { Cidr } from '../../src/net/ip.js';
import { silentLogger } from '../../src/support/logger.js';

/** A kernel with `eth0` (index 2) at 198.18.0.11/24. */
export function hostKernel(): MemoryKernel {
  return new MemoryKernel().addLink({ index: 2, name: 'eth0', mtu: 1500, up: true }, [{ address: Cidr.parse('198.18.0.11/24'), scope: 0, flags: 0x80 }]);
}

/** Runs a reconciler (resync far away unless given) while `body` runs, and stops it afterwards, also on failure. */
export async function withReconciler(
  kernel: MemoryKernel,
  plan: () => DesiredState,
  body: (reconciler: Reconciler) => Promise<void>,
  resyncIntervalMs = 60_000,
): Promise<void> {
  const reconciler = new Reconciler({ kernel, plan, logger: silentLogger(), resyncIntervalMs });
  const controller = new AbortController();
  const running = reconciler.run(controller.signal);
  try {
    await body(reconciler);
  } finally {
    controller.abort();
    await running;
  }
}
