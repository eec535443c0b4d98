/**
 * The link operations that bring the wanted devices into place, from the device tracker's pending applies.
 * Pure. A missing device the reconciler creates is created; one a data path creates is waited for. A link whose
 * identity differs is deleted (and created again when the reconciler creates that kind); MTU, MAC and the up
 * flag are corrected in place. Unwanted devices of ours are deleted separately, last of a pass.
 */
import { type Device, createdByReconciler, inPlaceChange, incompatibilities } from './devices.js';
import type { Link } from './kernel-objects.js';
import type { LinkOp } from './kernel.js';

export interface DeviceWork {
  /** Deletions of incompatible links, creations and in-place updates, in the order to apply them. */
  readonly ops: LinkOp[];
  /** Devices deleted (and created again), with the settings that differed (for the log). */
  readonly recreated: ReadonlyArray<{ readonly name: string; readonly differences: readonly string[] }>;
  /** Devices a data path creates that do not exist (yet). */
  readonly waiting: readonly string[];
}

export function deviceWork(pending: ReadonlyArray<readonly [string, Device]>, observed: (name: string) => Link | undefined): DeviceWork {
  const ops: LinkOp[] = [];
  const recreated: Array<{ name: string; differences: string[] }> = [];
  const waiting: string[] = [];
  for (const [name, device] of pending) {
    const link = observed(name);
    const differences = link ? incompatibilities(device, link) : [];
    if (link && differences.length > 0) {
      recreated.push({ name, differences });
      ops.push({ kind: 'delete', index: link.index, name });
    }
    if (!link || differences.length > 0) {
      if (createdByReconciler(device)) ops.push({ kind: 'create', device });
      else waiting.push(name);
      continue;
    }
    const change = inPlaceChange(device, link);
    if (change) ops.push({ kind: 'update', index: link.index, name, ...change });
  }
  return { ops, recreated, waiting };
}

/** One line for a link op (logs and failure reports). */
export function describeLinkOp(op: LinkOp): string {
  return `${op.kind} link ${op.kind === 'create' ? op.device.name : op.name}`;
}
