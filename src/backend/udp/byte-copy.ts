/**
 * Copies bytes between two buffers without allocating. Node 20's `Buffer#copy` and `TypedArray#set` on a
 * `subarray` both create a Uint8Array view per call (perf of the udp worker under lone pings showed
 * `CreateTypedArray` + `TypedArrayPrototypeSet` on every packet, from the copy out of the offload read
 * buffer); a short packet (a ping, an ACK) is copied faster by a loop the optimizer compiles in place, a
 * long one still by the engine's memcpy.
 */

/** At or below this many bytes, a loop; above, one `set` (the view it allocates is amortized over the bytes). */
export const LOOP_COPY_MAX_BYTES = 256;

/** Copies `source[start, end)` to `target` at `at`; returns the bytes copied. The ranges must not overlap. */
export function copyBytes(source: Uint8Array, start: number, end: number, target: Uint8Array, at: number): number {
  const length = end - start;
  if (length > LOOP_COPY_MAX_BYTES) {
    target.set(source.subarray(start, end), at);
    return length;
  }
  for (let index = 0; index < length; index++) target[at + index] = source[start + index] as number;
  return length;
}
