/**
 * The udp data path's counters in one Float64Array, so the worker that forwards packets adds to them with
 * plain stores and the main thread reads them from the same SharedArrayBuffer whenever it likes, without a
 * message round trip. One writer (the worker); a reader may see a batch half counted, never a torn number
 * (aligned 8-byte stores). Doubles count exactly to 2^53: centuries of packets.
 */

/**
 * Every counter, in storage order. Syscall counts let a benchmark report syscalls per packet; the offload
 * counters say how often a superpacket (TSO read, coalesced write) or a GSO/GRO datagram train did the work.
 */
export const COUNTER_NAMES = [
  'tunPacketsRead', 'tunBytesRead', 'udpPacketsSent', 'udpBytesSent',
  'udpPacketsReceived', 'udpBytesReceived', 'tunPacketsWritten', 'tunBytesWritten',
  'icmpUnreachableSent',
  'dropNoRoute', 'dropTtlExpired', 'dropRunt', 'dropNotIpv4', 'dropBadHeaderLength', 'dropUnknownSource',
  'dropTruncated', 'dropSendFailed', 'dropTunWriteFailed',
  'syscallPoll', 'syscallTunRead', 'syscallTunWrite', 'syscallRecvmmsg', 'syscallSendmmsg',
  'tunSuperpacketsRead', 'tunSuperpacketsWritten', 'udpGsoSends', 'udpGroReceives', 'dropBadOffload',
  'deviceReopens',
] as const;

export type CounterName = (typeof COUNTER_NAMES)[number];

/** Index of each counter, for the hot path (`counters.values[Counter.tunPacketsRead] += 1`). */
export const Counter = Object.freeze(Object.fromEntries(COUNTER_NAMES.map((name, index) => [name, index]))) as { readonly [K in CounterName]: number };

/** Batch-size histograms: how many packets one call moved. */
export const BATCH_KINDS = ['tunRead', 'udpReceive', 'udpSend', 'tunWrite'] as const;
export type BatchKind = (typeof BATCH_KINDS)[number];
export const Batch = Object.freeze(Object.fromEntries(BATCH_KINDS.map((name, index) => [name, index]))) as { readonly [K in BatchKind]: number };

/** Buckets by powers of two: 1, 2–3, 4–7, …, 128+. */
export const BATCH_BUCKETS = 8;
const HISTOGRAM_BASE = COUNTER_NAMES.length;
const SLOTS = HISTOGRAM_BASE + BATCH_KINDS.length * BATCH_BUCKETS;

export interface CountersSnapshot {
  readonly counters: Readonly<Record<CounterName, number>>;
  /** Per kind, calls per bucket: index b counts calls that moved 2^b to 2^(b+1)−1 packets (the last: 128+). */
  readonly batches: Readonly<Record<BatchKind, readonly number[]>>;
}

export class DatapathCounters {
  readonly values: Float64Array;

  /** Over `memory` (shared with another thread) or over fresh memory of its own. */
  constructor(memory: SharedArrayBuffer | ArrayBuffer = new SharedArrayBuffer(DatapathCounters.bytes)) {
    this.values = new Float64Array(memory, 0, SLOTS);
  }

  static get bytes(): number {
    return SLOTS * Float64Array.BYTES_PER_ELEMENT;
  }

  /** Adds `amount` to a counter (index from `Counter`). */
  add(index: number, amount = 1): void {
    this.values[index] = (this.values[index] as number) + amount;
  }

  /** Counts one call that moved `packets` packets (ignored when 0). */
  recordBatch(kind: number, packets: number): void {
    if (packets <= 0) return;
    const bucket = Math.min(BATCH_BUCKETS - 1, 31 - Math.clz32(packets));
    this.add(HISTOGRAM_BASE + kind * BATCH_BUCKETS + bucket);
  }

  snapshot(): CountersSnapshot {
    const counters = Object.fromEntries(COUNTER_NAMES.map((name, index) => [name, this.values[index] as number])) as Record<CounterName, number>;
    const batches = Object.fromEntries(
      BATCH_KINDS.map((kind, index) => [kind, Array.from(this.values.subarray(HISTOGRAM_BASE + index * BATCH_BUCKETS, HISTOGRAM_BASE + (index + 1) * BATCH_BUCKETS))]),
    ) as Record<BatchKind, number[]>;
    return { counters, batches };
  }
}

/**
 * A snapshot as one flat record, for the counter sink: every counter under its name, and each batch-size
 * bucket as `<kind>BatchesOf<lower bound>` (e.g. `udpSendBatchesOf8`: sendmmsg calls that moved 8–15 packets).
 */
export function flatCounters(snapshot: CountersSnapshot): Record<string, number> {
  const flat: Record<string, number> = { ...snapshot.counters };
  for (const kind of BATCH_KINDS) {
    snapshot.batches[kind].forEach((calls, bucket) => (flat[`${kind}BatchesOf${2 ** bucket}`] = calls));
  }
  return flat;
}
