/** Golden text of MemoryKernel state: devices, addresses, neighbours/FDB and routes, one sorted line each. */
import { describeNeighbour, describeRoute } from '../../src/dataplane/kernel-objects.js';
import type { MemoryKernel } from '../../src/dataplane/memory-kernel.js';

export function routeTable(kernel: MemoryKernel): string {
  return [...kernel.routes.values()].map((route) => `${describeRoute(route)} proto ${route.protocol}`).sort().join('\n');
}

/** Everything on the kernel, with device indexes replaced by names so the text is stable. */
export function kernelText(kernel: MemoryKernel): string {
  const name = (index: number | undefined) => [...kernel.links.values()].find((link) => link.index === index)?.name ?? `#${index}`;
  const lines: string[] = [];
  for (const link of kernel.links.values()) {
    const v = link.vxlan;
    const up = link.up ? ' up' : '';
    if (v) lines.push(`link ${link.name} vxlan id ${v.vni} local ${v.local} dev ${name(v.underlayIndex)} dstport ${v.port}${v.learning ? '' : ' nolearning'}${v.gbp ? ' gbp' : ''} mtu ${link.mtu} mac ${link.mac}${up}`);
    else if (link.ipip) lines.push(`link ${link.name} ipip local ${link.ipip.local} dev ${name(link.ipip.underlayIndex)} mtu ${link.mtu}${up}`);
    else if (link.kind) lines.push(`link ${link.name} ${link.kind} mtu ${link.mtu}${up}`);
    else lines.push(`link ${link.name} mtu ${link.mtu}`);
  }
  for (const address of kernel.addresses) lines.push(`addr ${address.address} dev ${name(address.linkIndex)}`);
  for (const entry of kernel.neighbours.values()) lines.push(describeNeighbour({ ...entry, linkName: name(entry.linkIndex) }));
  for (const route of kernel.routes.values()) lines.push(`route ${describeRoute({ ...route, linkName: name(route.linkIndex) })}`);
  return lines.sort().join('\n');
}
