/**
 * What bench/scale-vs-upstream.ts does differently per backend (issue 13 asks for vxlan and host-gw at 5,000
 * peers): the lease each peer writes, the kernel's own limit for the same entries, which of flanneld's entries
 * the drift figures delete, what the burst changes in a lease and how its effect shows in a notification, and
 * what is left in the kernel to remove between rounds.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as C from '../src/adapters/netlink/constants.js';
import type { NetlinkMessage } from '../src/adapters/netlink/codec.js';
import { decodeNeighbour, decodeRoute } from '../src/adapters/netlink/messages.js';
import type { NetlinkKernel } from '../src/adapters/netlink/netlink-kernel.js';
import { NUD_PERMANENT, type Neighbour, type Route } from '../src/dataplane/kernel-objects.js';
import { run } from '../src/lab/shell.js';
import { benchPeer } from './bench-namespace.js';
import { vxlanBatchBaselineMs } from './bench-process.js';

export type RepairKind = 'route' | 'neighbour' | 'fdb';

export interface ScaleBackend {
  readonly type: 'vxlan' | 'host-gw';
  /** The lease value peer `index` writes, or after the burst changed it. */
  leaseValue(index: number, changed?: boolean): string;
  /** Milliseconds `ip -batch` (and `bridge -batch`) take to install what flanneld installs for `count` peers. */
  batchBaselineMs(work: string, count: number, kernel: NetlinkKernel): Promise<number>;
  /** What that baseline runs, for the table. */
  readonly baselineLabel: string;
  readonly repairKinds: readonly RepairKind[];
  /** Up to `count` of flanneld's entries of `kind` (its peers' subnets are `peerSubnets`). */
  driftTargets(kernel: NetlinkKernel, kind: RepairKind, count: number, peerSubnets: ReadonlySet<string>): Promise<Array<Route | Neighbour>>;
  /** The most peers the burst can change (distinct new values). */
  readonly burstLimit: number;
  /** What the burst's change of peer `index` shows in the kernel (a neighbour's MAC, a route's gateway). */
  burstMark(index: number): string;
  /** The burst mark a notification carries, if any. */
  burstMarkOf(message: NetlinkMessage): string | undefined;
  /** Removes what flanneld left in the kernel, so the next round starts from nothing. */
  cleanUp(): void;
}

/** The VtepMAC peer `index` publishes after the burst (another OUI byte, so it differs from every original). */
function burstMac(index: number): string {
  return benchPeer(index).mac.replace(/^02:00/, '02:01');
}

const vxlan: ScaleBackend = {
  type: 'vxlan',
  leaseValue: (index, changed = false) =>
    `{"PublicIP":"${benchPeer(index).publicIP}","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"${changed ? burstMac(index) : benchPeer(index).mac}"}}`,
  batchBaselineMs: vxlanBatchBaselineMs,
  baselineLabel: 'ip -batch + bridge -batch',
  repairKinds: ['route', 'neighbour', 'fdb'],
  async driftTargets(kernel, kind, count) {
    const device = (await kernel.listLinks()).find((link) => link.name === 'flannel.1')?.index;
    if (kind === 'route') return (await kernel.listRoutes()).filter((route) => route.linkIndex === device && route.dst.prefixLength === 24).slice(0, count);
    const wanted = kind === 'fdb' ? 'fdb' : 'neigh';
    return (await kernel.listNeighbours())
      .filter((entry) => entry.linkIndex === device && entry.state & NUD_PERMANENT && entry.ip !== undefined && entry.kind === wanted)
      .slice(0, count);
  },
  burstLimit: Number.MAX_SAFE_INTEGER,
  burstMark: burstMac,
  burstMarkOf(message) {
    const entry = message.type === C.RTM_NEWNEIGH ? decodeNeighbour(message.payload) : undefined;
    return entry?.kind === 'neigh' ? entry.mac?.toString() : undefined;
  },
  cleanUp: () => run('ip', ['link', 'del', 'flannel.1'], { allowFailure: true }),
};

/** 198.19.250.0–198.19.255.255: public IPs no bench peer has (benchPeer uses 198.19.0–249.x up to 62,500 peers). */
const HOSTGW_BURST_FIRST_OCTET = 250;

/** The public IP peer `index` moves to in the burst: its route's gateway changes. */
function burstPublicIP(index: number): string {
  return `198.19.${HOSTGW_BURST_FIRST_OCTET + Math.floor(index / 250)}.${1 + (index % 250)}`;
}

const hostGw: ScaleBackend = {
  type: 'host-gw',
  leaseValue: (index, changed = false) =>
    `{"PublicIP":"${changed ? burstPublicIP(index) : benchPeer(index).publicIP}","PublicIPv6":null,"BackendType":"host-gw"}`,
  async batchBaselineMs(work, count, kernel) {
    const batch = Array.from({ length: count }, (_, index) => `route add ${benchPeer(index).subnet} via ${benchPeer(index).publicIP} dev eth0 proto 112`);
    writeFileSync(join(work, 'routes.batch'), batch.join('\n') + '\n');
    try {
      const started = process.hrtime.bigint();
      run('ip', ['-batch', join(work, 'routes.batch')]);
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      const installed = (await kernel.listRoutes()).filter((route) => route.protocol === 112).length;
      if (installed !== count) throw new Error(`baseline incomplete: ${installed} routes of ${count}`);
      return ms;
    } finally {
      run('ip', ['route', 'flush', 'proto', '112'], { allowFailure: true });
    }
  },
  baselineLabel: 'ip -batch',
  repairKinds: ['route'],
  async driftTargets(kernel, _kind, count, peerSubnets) {
    return (await kernel.listRoutes()).filter((route) => route.gateway !== undefined && peerSubnets.has(route.dst.toString())).slice(0, count);
  },
  burstLimit: (256 - HOSTGW_BURST_FIRST_OCTET) * 250,
  burstMark: burstPublicIP,
  burstMarkOf(message) {
    return message.type === C.RTM_NEWROUTE ? decodeRoute(message.payload)?.gateway?.toString() : undefined;
  },
  // Neither flanneld removes its host-gw routes when it stops (upstream does not; ours leaves the data path up).
  cleanUp: () => run('ip', ['route', 'flush', 'root', '10.0.0.0/8'], { allowFailure: true }),
};

export const SCALE_BACKENDS: Readonly<Record<ScaleBackend['type'], ScaleBackend>> = { vxlan, 'host-gw': hostGw };
