/**
 * What flanneld's status socket serves, gathered from the running daemon (it implements StatusProvider through
 * these): the facts of the status document and the lease table. The kernel is read fresh for devices and peer
 * programming, so status shows what the kernel has, not what the reconciler believes; subnet.env is read from
 * disk through the injected reader. Nothing here throws for a missing part: it is left out.
 */
import type { Backend } from '../backend/backend.js';
import { renderSubnetEnv } from '../cni/subnet-env.js';
import type { NetworkConfig } from '../config/network-config.js';
import type { Kernel } from '../dataplane/kernel.js';
import type { Reconciler } from '../dataplane/reconciler.js';
import type { Lease } from '../lease/lease.js';
import type { LeaseTracker } from '../lease/lease-tracker.js';
import type { PeerAdmission } from '../lease/peer-admission.js';
import { deviceFacts } from '../ops/device-settings.js';
import { comparePeerProgramming } from '../ops/peer-programming.js';
import type { FirewallFacts, LeaseTable, StatusFacts } from '../ops/status-document.js';
import { errorMessage } from '../support/errors.js';
import type { FirewallReconciler } from '../traffic/firewall-reconciler.js';

/** What status needs from outside the daemon: who we are, the subnet file as written, datapath health. */
export interface DaemonStatusInputs {
  readonly version: string;
  readonly pid: number;
  readonly startedAtMs: number;
  readonly subnetFilePath: string;
  /** subnet.env as it is on disk (undefined: missing); a throw is shown as the read error. */
  readonly readSubnetFile: () => string | undefined;
  /** Datapath health's peers (probed, and down right now), when it runs. */
  readonly datapath?: () => { readonly watched: number; readonly unreachable: readonly string[] } | undefined;
}

/** The parts of a running daemon status reads (absent before the daemon got that far). */
export interface DaemonStatusParts {
  readonly ready: boolean;
  readonly subnetManager: string;
  readonly kernel: Kernel;
  readonly tracker: LeaseTracker;
  readonly lease?: Lease;
  readonly admission?: PeerAdmission;
  readonly config?: NetworkConfig;
  readonly backend?: Backend;
  readonly reconciler?: Reconciler;
  readonly firewall?: { readonly reconciler: FirewallReconciler; readonly facts: Omit<FirewallFacts, 'writes' | 'lastWriteAtMs' | 'lastError'> };
  /** --ip-masq (part of subnet.env). */
  readonly ipMasq: boolean;
}

const NO_INPUTS: DaemonStatusInputs = { version: '', pid: 0, startedAtMs: 0, subnetFilePath: '', readSubnetFile: () => undefined };

export async function gatherStatusFacts(inputs: DaemonStatusInputs = NO_INPUTS, parts: DaemonStatusParts): Promise<StatusFacts> {
  const { reconciler, admission, backend, firewall, config, lease } = parts;
  const wanted = config && backend && lease ? renderSubnetEnv(config, lease, backend.mtu, parts.ipMasq) : undefined;
  const [links, routes, neighbours] = reconciler
    ? await Promise.all([parts.kernel.listLinks(), parts.kernel.listRoutes(), parts.kernel.listNeighbours()])
    : [[], [], []];
  const desired = reconciler?.desired;
  const stats = reconciler?.stats;
  let subnetEnv: StatusFacts['subnetEnv'] = { path: inputs.subnetFilePath, ...(wanted === undefined ? {} : { wanted }) };
  try {
    const text = inputs.readSubnetFile();
    if (text !== undefined) subnetEnv = { ...subnetEnv, text };
  } catch (error) {
    subnetEnv = { ...subnetEnv, readError: errorMessage(error) };
  }
  const datapath = inputs.datapath?.();
  return {
    version: inputs.version,
    pid: inputs.pid,
    startedAtMs: inputs.startedAtMs,
    ready: parts.ready,
    subnetManager: parts.subnetManager,
    ...(parts.lease ? { lease: parts.lease } : {}),
    ...(backend ? { backend: { type: backend.type, mtu: backend.mtu } } : {}),
    devices: desired ? deviceFacts(desired.devices, links) : [],
    admittedPeers: admission?.peers().length ?? 0,
    rejectedPeers: [...(admission?.rejections() ?? [])].map(([key, reason]) => ({ key, reason })),
    ...(desired && stats && stats.passes > 0 ? { programming: comparePeerProgramming([...desired.groups], { links, routes, neighbours }) } : {}),
    reconcile: stats ? { passes: stats.passes, ...(stats.lastPass ? { lastPass: stats.lastPass } : {}), ...(stats.lastSuccessAtMs === undefined ? {} : { lastSuccessAtMs: stats.lastSuccessAtMs }) } : { passes: 0 },
    driftRepairs: { ...(stats?.driftRepairs ?? {}) },
    ...(firewall ? { firewall: { ...firewall.facts, ...firewall.reconciler.state } } : {}),
    subnetEnv,
    ...(datapath ? { datapath } : {}),
  };
}

/** Our lease, the admitted peers and the rejected ones with their reasons. */
export function leaseTableOf(parts: Pick<DaemonStatusParts, 'lease' | 'admission' | 'tracker'>): LeaseTable {
  const rejected: Array<{ lease: Lease; reason: string }> = [];
  for (const [key, reason] of parts.admission?.rejections() ?? []) {
    const lease = parts.tracker.get(key);
    if (lease) rejected.push({ lease, reason });
  }
  return { ...(parts.lease ? { own: parts.lease } : {}), admitted: parts.admission?.peers() ?? [], rejected };
}
