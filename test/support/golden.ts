/** Golden text of MemoryKernel state, one `ip route`-like line per route, sorted. */
import { describeRoute } from '../../src/dataplane/kernel-objects.js';
import type { MemoryKernel } from '../../src/dataplane/memory-kernel.js';

export function routeTable(kernel: MemoryKernel): string {
  return [...kernel.routes.values()].map((route) => `${describeRoute(route)} proto ${route.protocol}`).sort().join('\n');
}
