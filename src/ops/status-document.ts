/**
 * The status document `flannelctl status` shows, and the provider interface flanneld implements to fill it.
 *
 * flanneld serves it on its local status socket (status-socket.ts); the provider hands over facts (its lease,
 * its backend's devices as wanted and as found, the peer programming comparison, the last reconcile pass, the
 * firewall's state, subnet.env as written and as wanted) and `buildStatusDocument` turns them into the
 * document, pure: it computes the verdicts (lease expiry, device settings that differ, subnet.env vs lease) so
 * that every client shows the same judgement. The document is versioned JSON (`version: 1`); a field is only
 * ever added.
 */
import { type SubnetEnv, parseSubnetEnv } from '../cni/subnet-env.js';
import type { ReconcileStats } from '../dataplane/reconciler.js';
import type { Lease } from '../lease/lease.js';
import type { KernelObjectKind } from '../metrics/flannel-metrics.js';
import { errorMessage } from '../support/errors.js';
import type { ProgrammingReport } from './peer-programming.js';

export const STATUS_DOCUMENT_VERSION = 1;
/** At most this many differing peers are named (the counts are always complete). */
export const MAX_NAMED_PEERS = 50;

export type SettingValue = string | number | boolean;

/** One device of the backend: what it should be and what the kernel has (absent: missing). */
export interface DeviceFacts {
  readonly name: string;
  readonly kind: string;
  readonly wanted: Readonly<Record<string, SettingValue>>;
  readonly actual?: Readonly<Record<string, SettingValue>>;
}

/** The reconciler's record of its passes as status shows it (its drift totals are StatusFacts.driftRepairs). */
export type ReconcileFacts = Omit<ReconcileStats, 'driftRepairs'>;

export interface FirewallFacts {
  readonly mode: 'iptables' | 'nftables';
  readonly ipMasq: boolean;
  readonly forwardRules: boolean;
  readonly ingressFilter: boolean;
  /** Transactions written since start. */
  readonly writes: number;
  readonly lastWriteAtMs?: number;
  /** The last resync's failure, if the last resync failed. */
  readonly lastError?: string;
}

/** Everything flanneld knows that `flannelctl status` shows; gathered on request (it may read the kernel). */
export interface StatusFacts {
  readonly version: string;
  readonly pid: number;
  readonly startedAtMs: number;
  readonly ready: boolean;
  readonly subnetManager: string;
  readonly lease?: Lease;
  readonly backend?: { readonly type: string; readonly mtu: number };
  readonly devices: readonly DeviceFacts[];
  readonly admittedPeers: number;
  readonly rejectedPeers: ReadonlyArray<{ readonly key: string; readonly reason: string }>;
  /** The plan's per-peer groups compared with the kernel (comparePeerProgramming); absent before the first plan. */
  readonly programming?: ProgrammingReport;
  readonly reconcile: ReconcileFacts;
  readonly driftRepairs: Partial<Record<KernelObjectKind, number>>;
  /** Absent when flanneld manages no firewall rules. */
  readonly firewall?: FirewallFacts;
  readonly subnetEnv: { readonly path: string; readonly text?: string; readonly readError?: string; readonly wanted?: string };
  readonly datapath?: { readonly watched: number; readonly unreachable: readonly string[] };
}

/** What flanneld implements for its status socket. `statusFacts` must not throw for a missing part: leave it out. */
export interface StatusProvider {
  statusFacts(): Promise<StatusFacts>;
  /** Every lease flanneld knows (ours, admitted and rejected peers), for `flannelctl trace` and `doctor`. */
  leases(): LeaseTable;
}

export interface LeaseTable {
  readonly own?: Lease;
  readonly admitted: readonly Lease[];
  readonly rejected: ReadonlyArray<{ readonly lease: Lease; readonly reason: string }>;
}

export interface StatusDocument {
  readonly version: typeof STATUS_DOCUMENT_VERSION;
  readonly generatedAt: string;
  readonly flanneld: { readonly version: string; readonly pid: number; readonly startedAt: string; readonly ready: boolean; readonly subnetManager: string };
  readonly lease: null | {
    readonly subnet: string;
    readonly ipv6Subnet: string | null;
    readonly publicIP: string;
    readonly publicIPv6: string | null;
    readonly backendType: string;
    readonly expiresAt: string | null;
    readonly expiresInSeconds: number | null;
    readonly expired: boolean;
  };
  readonly backend: null | { readonly type: string; readonly mtu: number };
  readonly devices: ReadonlyArray<DeviceFacts & { readonly present: boolean; readonly differences: readonly string[] }>;
  readonly peers: {
    readonly admitted: number;
    readonly rejected: number;
    readonly rejectedLeases: ReadonlyArray<{ readonly key: string; readonly reason: string }>;
    /** Per-peer groups the plan wants. */
    readonly desired: number;
    /** Of those, fully in the kernel. */
    readonly programmed: number;
    readonly differing: ReadonlyArray<{ readonly peer: string; readonly missing: readonly string[] }>;
    readonly unexpectedRoutes: readonly string[];
  };
  /**
   * The plan's entries that are no peer's (the route of the whole network over a udp or wireguard device, the
   * blackhole route): how many groups, and what of them the kernel lacks. Absent from older daemons' documents.
   */
  readonly network?: { readonly desired: number; readonly missing: readonly string[] };
  readonly reconcile: {
    readonly passes: number;
    readonly lastPassAt: string | null;
    readonly lastResult: 'ok' | 'failed' | 'never';
    readonly lastDurationMs: number | null;
    readonly lastChanged: number | null;
    readonly lastErrors: readonly string[];
    readonly lastSuccessAt: string | null;
    readonly driftRepairs: Partial<Record<KernelObjectKind, number>>;
  };
  readonly firewall: null | (Omit<FirewallFacts, 'lastWriteAtMs' | 'lastError'> & { readonly state: 'ok' | 'failing'; readonly lastWriteAt: string | null; readonly lastError: string | null });
  readonly subnetEnv: { readonly path: string; readonly matches: boolean; readonly problems: readonly string[] };
  readonly datapath: null | { readonly watched: number; readonly unreachable: readonly string[] };
}

const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());

export function buildStatusDocument(facts: StatusFacts, nowMs: number): StatusDocument {
  const { lease, programming, reconcile, firewall } = facts;
  const differing = (programming?.peers ?? []).filter((peer) => peer.missing.length > 0);
  return {
    version: STATUS_DOCUMENT_VERSION,
    generatedAt: new Date(nowMs).toISOString(),
    flanneld: { version: facts.version, pid: facts.pid, startedAt: new Date(facts.startedAtMs).toISOString(), ready: facts.ready, subnetManager: facts.subnetManager },
    lease: lease ? {
      subnet: lease.subnet.toString(),
      ipv6Subnet: lease.ipv6Subnet?.toString() ?? null,
      publicIP: lease.attrs.publicIP.toString(),
      publicIPv6: lease.attrs.publicIPv6?.toString() ?? null,
      backendType: lease.attrs.backendType,
      expiresAt: iso(lease.expiresAtMs),
      expiresInSeconds: lease.expiresAtMs === undefined ? null : Math.round((lease.expiresAtMs - nowMs) / 1000),
      expired: lease.expiresAtMs !== undefined && lease.expiresAtMs <= nowMs,
    } : null,
    backend: facts.backend ?? null,
    devices: facts.devices.map((device) => ({ ...device, present: device.actual !== undefined, differences: settingDifferences(device) })),
    peers: {
      admitted: facts.admittedPeers,
      rejected: facts.rejectedPeers.length,
      rejectedLeases: facts.rejectedPeers.slice(0, MAX_NAMED_PEERS),
      desired: programming?.peers.length ?? 0,
      programmed: (programming?.peers.length ?? 0) - differing.length,
      differing: differing.slice(0, MAX_NAMED_PEERS).map(({ peer, missing }) => ({ peer, missing })),
      unexpectedRoutes: (programming?.unexpectedRoutes ?? []).slice(0, MAX_NAMED_PEERS),
    },
    network: {
      desired: programming?.network.length ?? 0,
      missing: (programming?.network ?? []).flatMap((group) => group.missing).slice(0, MAX_NAMED_PEERS),
    },
    reconcile: {
      passes: reconcile.passes,
      lastPassAt: iso(reconcile.lastPass?.endedAtMs),
      lastResult: reconcile.lastPass ? (reconcile.lastPass.ok ? 'ok' : 'failed') : 'never',
      lastDurationMs: reconcile.lastPass?.durationMs ?? null,
      lastChanged: reconcile.lastPass?.changed ?? null,
      lastErrors: reconcile.lastPass?.errors ?? [],
      lastSuccessAt: iso(reconcile.lastSuccessAtMs),
      driftRepairs: facts.driftRepairs,
    },
    firewall: firewall ? {
      mode: firewall.mode, ipMasq: firewall.ipMasq, forwardRules: firewall.forwardRules, ingressFilter: firewall.ingressFilter, writes: firewall.writes,
      state: firewall.lastError === undefined ? 'ok' : 'failing', lastWriteAt: iso(firewall.lastWriteAtMs), lastError: firewall.lastError ?? null,
    } : null,
    subnetEnv: { path: facts.subnetEnv.path, ...compareSubnetEnv(facts.subnetEnv) },
    datapath: facts.datapath ? { watched: facts.datapath.watched, unreachable: facts.datapath.unreachable.slice(0, MAX_NAMED_PEERS) } : null,
  };
}

/** `setting: wanted X, kernel has Y` for every wanted setting the kernel's device does not have. */
export function settingDifferences(device: DeviceFacts): string[] {
  if (!device.actual) return ['missing'];
  const actual = device.actual;
  return Object.entries(device.wanted)
    .filter(([key, value]) => actual[key] !== value)
    .map(([key, value]) => `${key}: wanted ${value}, kernel has ${actual[key] ?? 'none'}`);
}

/**
 * subnet.env as written vs as flanneld wants it now (its lease, MTU and masquerade setting): compared field by
 * field, since the CNI plugin reads fields, not bytes.
 */
export function compareSubnetEnv(file: StatusFacts['subnetEnv']): { matches: boolean; problems: string[] } {
  if (file.readError !== undefined) return { matches: false, problems: [`cannot read ${file.path}: ${file.readError}`] };
  if (file.text === undefined) return { matches: false, problems: [`${file.path} does not exist`] };
  if (file.wanted === undefined) return { matches: false, problems: ['flanneld has no lease yet'] };
  let actual: SubnetEnv;
  try {
    actual = parseSubnetEnv(file.text);
  } catch (error) {
    return { matches: false, problems: [`${file.path}: ${errorMessage(error)}`] };
  }
  const wanted = parseSubnetEnv(file.wanted);
  const problems: string[] = [];
  const text = (value: unknown) => (value === undefined ? 'unset' : Array.isArray(value) ? value.join(',') || 'unset' : String(value));
  const fields: Array<[string, keyof SubnetEnv]> = [
    ['FLANNEL_NETWORK', 'networks'], ['FLANNEL_SUBNET', 'subnet'], ['FLANNEL_IPV6_NETWORK', 'ipv6Networks'], ['FLANNEL_IPV6_SUBNET', 'ipv6Subnet'],
    ['FLANNEL_MTU', 'mtu'], ['FLANNEL_IPMASQ', 'ipMasq'],
  ];
  for (const [name, field] of fields) {
    if (text(actual[field]) !== text(wanted[field])) problems.push(`${name}: file has ${text(actual[field])}, lease and config want ${text(wanted[field])}`);
  }
  return { matches: problems.length === 0, problems };
}
