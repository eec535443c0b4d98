/**
 * What `flannelctl doctor` looks at, as plain data (gather-doctor-facts.ts fills it from the host and flanneld's
 * status socket; doctor-checks.ts judges it without I/O). A part that could not be read is absent, and its check
 * says so instead of guessing.
 */
import type { Link } from '../../dataplane/kernel-objects.js';
import type { Cidr } from '../../net/ip.js';
import type { FirewallView } from '../firewall-view.js';
import type { ProbeOutcome } from '../probe/probe-target.js';
import type { LeaseTable, StatusDocument } from '../status-document.js';

export interface DoctorFacts {
  readonly nowMs: number;
  /** flanneld's status document, or why it could not be read. */
  readonly status?: StatusDocument;
  readonly statusError?: string;
  readonly leases?: LeaseTable;
  /** FLANNEL_NETWORK / FLANNEL_IPV6_NETWORK (from subnet.env). */
  readonly networks: readonly Cidr[];
  /** Sysctl values by name (`net/ipv4/ip_forward`, `net/ipv4/conf/all/rp_filter`…); absent: not present. */
  readonly sysctls: Readonly<Record<string, string | undefined>>;
  readonly links: readonly Link[];
  readonly firewall?: FirewallView;
  readonly tunDevice: boolean;
  /** The backend's link kind tried in a scratch namespace; absent for backends without a device. */
  readonly linkKind?: { readonly kind: string; readonly ok: boolean; readonly error?: string };
  readonly cni: { readonly confDir: string; readonly configs: ReadonlyArray<{ readonly name: string; readonly text: string }>; readonly pluginPath: string; readonly pluginPresent: boolean };
  /** Overlay probes to peers (a sample at scale). */
  readonly probes?: { readonly outcomes: readonly ProbeOutcome[]; readonly peers: number; readonly skipped: readonly string[] };
}

export type CheckResult = 'pass' | 'warn' | 'fail';

export interface DoctorCheck {
  readonly name: string;
  readonly result: CheckResult;
  readonly detail: string;
}
