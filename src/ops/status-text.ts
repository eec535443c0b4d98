/**
 * `flannelctl status` as text: the status document (status-document.ts) in the order an operator reads it —
 * is it up and ready, which lease, which devices, are all peers programmed, did the last pass work, firewall,
 * subnet.env — with the verdict first on each line. Pure. `checkStatusDocument` refuses a document it cannot
 * read (another version, not an object) with an error naming what is wrong.
 */
import { FlannelError } from '../support/errors.js';
import { STATUS_DOCUMENT_VERSION, type StatusDocument } from './status-document.js';

export function checkStatusDocument(value: unknown): StatusDocument {
  if (typeof value !== 'object' || value === null) throw new FlannelError('BAD_STATUS', 'status: expected a JSON object');
  const document = value as Partial<StatusDocument>;
  if (document.version !== STATUS_DOCUMENT_VERSION) throw new FlannelError('BAD_STATUS', `status: unsupported version ${JSON.stringify(document.version)} (this flannelctl reads ${STATUS_DOCUMENT_VERSION})`);
  for (const key of ['flanneld', 'peers', 'reconcile', 'subnetEnv', 'devices'] as const) {
    if (typeof document[key] !== 'object' || document[key] === null) throw new FlannelError('BAD_STATUS', `status: ${key} missing`);
  }
  return document as StatusDocument;
}

const mark = (ok: boolean) => (ok ? 'ok  ' : 'FAIL');

export function renderStatusText(document: StatusDocument): string {
  const lines: string[] = [];
  const { flanneld, lease, backend, peers, reconcile, firewall, subnetEnv, datapath } = document;
  lines.push(`flanneld ${flanneld.version} (pid ${flanneld.pid}, since ${flanneld.startedAt}, ${flanneld.subnetManager}): ${flanneld.ready ? 'ready' : 'NOT READY'}`);
  if (lease) {
    const expiry = lease.expiresAt === null ? 'never expires' : lease.expired ? `EXPIRED at ${lease.expiresAt}` : `expires ${lease.expiresAt} (in ${formatDuration(lease.expiresInSeconds ?? 0)})`;
    lines.push(`${mark(!lease.expired)} lease     ${[lease.subnet, lease.ipv6Subnet].filter(Boolean).join(' ')} public ${[lease.publicIP, lease.publicIPv6].filter(Boolean).join(' ')}, ${expiry}`);
  } else {
    lines.push(`${mark(false)} lease     none yet`);
  }
  if (backend) lines.push(`     backend   ${backend.type}, MTU ${backend.mtu}`);
  for (const device of document.devices) {
    const settings = Object.entries(device.wanted).map(([key, value]) => `${key}=${value}`).join(' ');
    lines.push(`${mark(device.differences.length === 0)} device    ${device.name} (${device.kind}) ${settings}`);
    for (const difference of device.differences) lines.push(`            ${difference}`);
  }
  const network = document.network ?? { desired: 0, missing: [] };
  if (network.desired > 0) {
    lines.push(`${mark(network.missing.length === 0)} network   ${network.missing.length === 0 ? 'routes in place' : 'missing in the kernel:'}`);
    for (const entry of network.missing) lines.push(`            ${entry}`);
  }
  // udp and extension carry peers in a data path, alloc has none: no per-peer kernel entries to count then.
  const programmed = peers.desired === 0 && peers.admitted > 0 ? 'no per-peer kernel entries' : `${peers.programmed}/${peers.desired} programmed`;
  lines.push(`${mark(peers.programmed === peers.desired && peers.unexpectedRoutes.length === 0)} peers     ${programmed}, ${peers.admitted} admitted, ${peers.rejected} rejected`);
  for (const peer of peers.differing) lines.push(`            ${peer.peer}: missing ${peer.missing.join('; ')}`);
  if (peers.differing.length < peers.desired - peers.programmed) lines.push(`            … and ${peers.desired - peers.programmed - peers.differing.length} more`);
  for (const route of peers.unexpectedRoutes) lines.push(`            unexpected ${route}`);
  for (const rejected of peers.rejectedLeases) lines.push(`            rejected ${rejected.key}: ${rejected.reason}`);
  const drift = Object.entries(reconcile.driftRepairs).map(([kind, count]) => `${kind} ${count}`).join(', ') || 'none';
  const last = reconcile.lastResult === 'never' ? 'no pass yet'
    : `last pass ${reconcile.lastResult} at ${reconcile.lastPassAt} (${reconcile.lastDurationMs} ms, ${reconcile.lastChanged} changes)`;
  lines.push(`${mark(reconcile.lastResult === 'ok')} reconcile ${last}; ${reconcile.passes} passes; drift repaired: ${drift}`);
  for (const error of reconcile.lastErrors) lines.push(`            ${error}`);
  if (firewall) {
    const features = [firewall.ipMasq && 'masquerade', firewall.forwardRules && 'forward rules', firewall.ingressFilter && 'overlay ingress filter'].filter(Boolean).join(', ') || 'no rules';
    lines.push(`${mark(firewall.state === 'ok')} firewall  ${firewall.mode}: ${features}; ${firewall.writes} writes${firewall.lastWriteAt ? `, last ${firewall.lastWriteAt}` : ''}${firewall.lastError ? `; failing: ${firewall.lastError}` : ''}`);
  } else {
    lines.push('     firewall  not managed');
  }
  lines.push(`${mark(subnetEnv.matches)} subnet.env ${subnetEnv.path}${subnetEnv.matches ? ' matches the lease' : ''}`);
  for (const problem of subnetEnv.problems) lines.push(`            ${problem}`);
  if (datapath) {
    lines.push(`${mark(datapath.unreachable.length === 0)} datapath  ${datapath.watched} peers probed, ${datapath.unreachable.length} unreachable over the overlay${datapath.unreachable.length ? `: ${datapath.unreachable.join(', ')}` : ''}`);
  }
  return lines.join('\n') + '\n';
}

/** True when the document shows nothing wrong (exit code of `flannelctl status`). */
export function statusHealthy(document: StatusDocument): boolean {
  return document.flanneld.ready && document.lease !== null && !document.lease.expired && document.peers.programmed === document.peers.desired &&
    (document.network?.missing.length ?? 0) === 0 &&
    document.reconcile.lastResult === 'ok' && document.subnetEnv.matches && document.devices.every((device) => device.differences.length === 0) &&
    (document.firewall?.state ?? 'ok') === 'ok';
}

export function formatDuration(seconds: number): string {
  const value = Math.max(0, Math.round(seconds));
  if (value < 120) return `${value}s`;
  if (value < 7200) return `${Math.round(value / 60)}m`;
  const minutes = Math.round(value / 60);
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
}
