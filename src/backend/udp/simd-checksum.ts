/**
 * A one's complement sum in WebAssembly SIMD, for the bytes the udp data path checksums most: the payload of
 * every TCP segment it cuts from a TSO superpacket. Profiled on the sender of a single TCP stream, the
 * JavaScript sum took 28% of the data path's CPU; this loop adds four 32-bit words per step into two 64-bit
 * lanes (no carries to track) and folds at the end.
 *
 * WebAssembly can only read its own memory, so the bytes must live there: `ChecksumArena.create(bytes)` gives
 * a Buffer over a fresh WebAssembly.Memory (never grown, so its address stays put for the kernel adapters), and
 * `fastSum` (internet-checksum.ts) takes this path for any view of such a buffer. Returns undefined where
 * WebAssembly SIMD is unavailable; the JavaScript sum then does the work.
 *
 * The module is under 300 bytes, written out below with the text form beside each instruction; the unit test
 * compares it with the JavaScript sum at every offset and length.
 */

/** (func (param $at i32) (param $length i32) (result i32)): the folded sum of little-endian 16-bit words. */
const BODY = [
  // locals: $end i32, $accumulator v128, $sum i64, $vector v128
  0x04, 0x01, 0x7f, 0x01, 0x7b, 0x01, 0x7e, 0x01, 0x7b,
  0x20, 0x00, 0x20, 0x01, 0x41, 0x70, 0x71, 0x6a, 0x21, 0x02, // $end = $at + ($length & -16)
  0x02, 0x40, 0x03, 0x40, // block loop
  0x20, 0x00, 0x20, 0x02, 0x4f, 0x0d, 0x01, // br_if 1 ($at >= $end)
  0x20, 0x00, 0xfd, 0x00, 0x00, 0x00, 0x21, 0x05, // $vector = v128.load $at
  0x20, 0x03, 0x20, 0x05, 0xfd, 0xc9, 0x01, 0xfd, 0xce, 0x01, // $accumulator + i64x2.extend_low_i32x4_u $vector
  0x20, 0x05, 0xfd, 0xca, 0x01, 0xfd, 0xce, 0x01, 0x21, 0x03, // + i64x2.extend_high_i32x4_u $vector
  0x20, 0x00, 0x41, 0x10, 0x6a, 0x21, 0x00, // $at += 16
  0x0c, 0x00, 0x0b, 0x0b, // br 0, end loop, end block
  0x20, 0x03, 0xfd, 0x1d, 0x00, 0x20, 0x03, 0xfd, 0x1d, 0x01, 0x7c, 0x21, 0x04, // $sum = lane 0 + lane 1
  0x20, 0x01, 0x41, 0x0f, 0x71, 0x21, 0x01, // $length &= 15
  0x02, 0x40, 0x03, 0x40, // block loop
  0x20, 0x01, 0x41, 0x04, 0x49, 0x0d, 0x01, // br_if 1 ($length < 4)
  0x20, 0x04, 0x20, 0x00, 0x35, 0x00, 0x00, 0x7c, 0x21, 0x04, // $sum += i64.load32_u $at
  0x20, 0x00, 0x41, 0x04, 0x6a, 0x21, 0x00, // $at += 4
  0x20, 0x01, 0x41, 0x04, 0x6b, 0x21, 0x01, // $length -= 4
  0x0c, 0x00, 0x0b, 0x0b, // br 0, end loop, end block
  0x20, 0x01, 0x41, 0x02, 0x4f, 0x04, 0x40, // if ($length >= 2)
  0x20, 0x04, 0x20, 0x00, 0x33, 0x00, 0x00, 0x7c, 0x21, 0x04, // $sum += i64.load16_u $at
  0x20, 0x00, 0x41, 0x02, 0x6a, 0x21, 0x00, // $at += 2
  0x20, 0x01, 0x41, 0x02, 0x6b, 0x21, 0x01, // $length -= 2
  0x0b, // end if
  0x20, 0x01, 0x04, 0x40, // if ($length)
  0x20, 0x04, 0x20, 0x00, 0x31, 0x00, 0x00, 0x7c, 0x21, 0x04, // $sum += i64.load8_u $at (the low byte of a LE word)
  0x0b, // end if
  ...[0, 1].flatMap(() => [0x20, 0x04, 0x42, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x83, 0x20, 0x04, 0x42, 0x20, 0x88, 0x7c, 0x21, 0x04]), // fold 64 → 32, twice
  ...[0, 1].flatMap(() => [0x20, 0x04, 0x42, 0xff, 0xff, 0x03, 0x83, 0x20, 0x04, 0x42, 0x10, 0x88, 0x7c, 0x21, 0x04]), // fold 32 → 16, twice
  0x20, 0x04, 0xa7, // i32.wrap_i64 $sum
  0x0b,
];

function section(id: number, content: number[]): number[] {
  return [id, ...leb128(content.length), ...content];
}

function leb128(value: number): number[] {
  const bytes: number[] = [];
  do {
    let byte = value & 0x7f;
    value >>>= 7;
    if (value !== 0) byte |= 0x80;
    bytes.push(byte);
  } while (value !== 0);
  return bytes;
}

const ascii = (text: string) => [text.length, ...Array.from(text, (character) => character.charCodeAt(0))];

const MODULE_BYTES = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
  ...section(1, [0x01, 0x60, 0x02, 0x7f, 0x7f, 0x01, 0x7f]), // type (i32, i32) -> i32
  ...section(2, [0x01, ...ascii('env'), ...ascii('memory'), 0x02, 0x00, 0x01]), // import memory, at least 1 page
  ...section(3, [0x01, 0x00]), // one function of that type
  ...section(7, [0x01, ...ascii('sum'), 0x00, 0x00]), // export it as "sum"
  ...section(10, [0x01, ...leb128(BODY.length), ...BODY]),
]);

let compiled: WebAssembly.Module | null | undefined;

function compiledModule(): WebAssembly.Module | undefined {
  if (compiled === undefined) {
    try {
      compiled = WebAssembly.validate(MODULE_BYTES) ? new WebAssembly.Module(MODULE_BYTES) : null;
    } catch {
      compiled = null;
    }
  }
  return compiled ?? undefined;
}

const arenas = new WeakMap<ArrayBufferLike, ChecksumArena>();

export class ChecksumArena {
  private constructor(
    readonly buffer: Buffer,
    private readonly sumIn: (at: number, length: number) => number,
  ) {}

  /** A buffer of at least `bytes` the SIMD sum can read, or undefined without WebAssembly SIMD. */
  static create(bytes: number): ChecksumArena | undefined {
    const module = compiledModule();
    if (!module) return undefined;
    const memory = new WebAssembly.Memory({ initial: Math.max(1, Math.ceil(bytes / 65536)) });
    const instance = new WebAssembly.Instance(module, { env: { memory } });
    const arena = new ChecksumArena(Buffer.from(memory.buffer), instance.exports.sum as (at: number, length: number) => number);
    arenas.set(memory.buffer, arena);
    return arena;
  }

  /** The arena a view's memory belongs to, if any. */
  static of(view: Uint8Array): ChecksumArena | undefined {
    return arenas.get(view.buffer);
  }

  /** The folded sum (16 bits, big-endian words) of `length` bytes at `offset` of `view` (a view of this arena). */
  sum(view: Uint8Array, offset: number, length: number): number {
    const folded = this.sumIn(view.byteOffset + offset, length);
    return ((folded & 0xff) << 8) | (folded >>> 8);
  }
}
