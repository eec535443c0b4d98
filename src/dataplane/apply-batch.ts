/**
 * One batch of a tracker's pending work through the Kernel port: turns the pending items into operations,
 * runs them, records in the tracker what the kernel holds after each success, and collects the failures. Pure
 * bookkeeping around the injected `run`.
 *
 * A deletion the kernel refuses because the object is already gone (ESRCH, ENOENT, EADDRNOTAVAIL, ENODEV)
 * succeeded: someone else removed it first, and a late notification may have made us try again.
 */
import type { OpFailure } from './kernel.js';

const ALREADY_GONE = new Set(['ESRCH', 'ENOENT', 'EADDRNOTAVAIL', 'ENODEV']);

export interface FailedOp {
  readonly what: string;
  readonly error: Error;
}

export interface BatchSpec<Item, Observed, Op> {
  /** Told what the kernel holds at a key after each success (a DeltaTracker). */
  readonly tracker: { observe(key: string, entry: Observed | undefined): void };
  readonly items: ReadonlyArray<readonly [string, Item]>;
  readonly toOp: (item: Item) => Op;
  readonly run: (ops: readonly Op[]) => Promise<OpFailure<Op>[]>;
  /** What the kernel holds at the key after the op succeeded (undefined: nothing). */
  readonly after: (op: Op) => Observed | undefined;
  readonly isDelete: (op: Op) => boolean;
  readonly describe: (op: Op) => string;
}

/** Runs the batch; returns the number of operations attempted, failures appended to `failures`. */
export async function applyBatch<Item, Observed, Op>(spec: BatchSpec<Item, Observed, Op>, failures: FailedOp[]): Promise<number> {
  if (spec.items.length === 0) return 0;
  const ops = spec.items.map(([, item]) => spec.toOp(item));
  const failed = new Map<Op, Error>();
  for (const failure of await spec.run(ops)) {
    const code = (failure.error as { code?: unknown }).code;
    if (spec.isDelete(failure.op) && typeof code === 'string' && ALREADY_GONE.has(code)) continue;
    failed.set(failure.op, failure.error);
  }
  ops.forEach((op, position) => {
    const error = failed.get(op);
    if (error) failures.push({ what: spec.describe(op), error });
    else spec.tracker.observe((spec.items[position] as readonly [string, Item])[0], spec.after(op));
  });
  return ops.length;
}
