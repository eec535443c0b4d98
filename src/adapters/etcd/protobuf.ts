/**
 * The protobuf wire format, just enough for etcd's API: varints (int64 as bigint), length-delimited fields
 * (bytes, strings, nested messages), and decoding into field lists. Pure; round-trip tested.
 */

export class ProtoWriter {
  private readonly parts: Buffer[] = [];

  /** A varint field; zero is written too (proto3 oneof members need explicit presence). */
  varint(field: number, value: bigint | number | boolean): this {
    this.parts.push(encodeVarint(BigInt(field) << 3n), encodeVarint(typeof value === 'boolean' ? (value ? 1n : 0n) : BigInt(value)));
    return this;
  }

  /** A varint field, omitted when zero or false (proto3 default). */
  varintIfSet(field: number, value: bigint | number | boolean | undefined): this {
    return value === undefined || value === 0 || value === 0n || value === false ? this : this.varint(field, value);
  }

  bytes(field: number, value: Buffer | string | undefined): this {
    if (value === undefined) return this;
    const data = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
    this.parts.push(encodeVarint((BigInt(field) << 3n) | 2n), encodeVarint(BigInt(data.length)), data);
    return this;
  }

  message(field: number, build: (writer: ProtoWriter) => void): this {
    const inner = new ProtoWriter();
    build(inner);
    return this.bytes(field, inner.toBuffer());
  }

  toBuffer(): Buffer {
    return Buffer.concat(this.parts);
  }
}

function encodeVarint(value: bigint): Buffer {
  // Negative int64 values are sent as their 64-bit two's complement (10 bytes), as protobuf does.
  let remaining = value < 0n ? value + (1n << 64n) : value;
  const bytes: number[] = [];
  do {
    let byte = Number(remaining & 0x7fn);
    remaining >>= 7n;
    if (remaining > 0n) byte |= 0x80;
    bytes.push(byte);
  } while (remaining > 0n);
  return Buffer.from(bytes);
}

export type ProtoValue = bigint | Buffer;

/** A decoded message: field number → values in order (varints as bigint, length-delimited as Buffer). */
export class ProtoMessage {
  private constructor(private readonly fields: Map<number, ProtoValue[]>) {}

  static decode(buffer: Buffer): ProtoMessage {
    const fields = new Map<number, ProtoValue[]>();
    let offset = 0;
    const varint = (): bigint => {
      let result = 0n;
      let shift = 0n;
      for (;;) {
        if (offset >= buffer.length) throw new Error('protobuf: truncated varint');
        const byte = buffer[offset++] as number;
        result |= BigInt(byte & 0x7f) << shift;
        if ((byte & 0x80) === 0) return result;
        shift += 7n;
      }
    };
    while (offset < buffer.length) {
      const tag = varint();
      const field = Number(tag >> 3n);
      const wire = Number(tag & 7n);
      let value: ProtoValue;
      if (wire === 0) value = varint();
      else if (wire === 2) {
        const length = Number(varint());
        if (offset + length > buffer.length) throw new Error('protobuf: truncated field');
        value = buffer.subarray(offset, offset + length);
        offset += length;
      } else if (wire === 1) {
        value = buffer.readBigUInt64LE(offset);
        offset += 8;
      } else if (wire === 5) {
        value = BigInt(buffer.readUInt32LE(offset));
        offset += 4;
      } else {
        throw new Error(`protobuf: unsupported wire type ${wire}`);
      }
      const list = fields.get(field);
      if (list) list.push(value);
      else fields.set(field, [value]);
    }
    return new ProtoMessage(fields);
  }

  /** int64/uint64/bool/enum field (0 when absent); int64 values above 2^63 are read back as negative. */
  int(field: number): bigint {
    const value = this.fields.get(field)?.at(-1);
    if (typeof value !== 'bigint') return 0n;
    return value >= 1n << 63n ? value - (1n << 64n) : value;
  }

  /** uint64 field (0 when absent), never negative: etcd's cluster and member IDs use all 64 bits. */
  uint(field: number): bigint {
    const value = this.fields.get(field)?.at(-1);
    return typeof value === 'bigint' ? value : 0n;
  }

  bool(field: number): boolean {
    return this.int(field) !== 0n;
  }

  bytes(field: number): Buffer {
    const value = this.fields.get(field)?.at(-1);
    return Buffer.isBuffer(value) ? value : Buffer.alloc(0);
  }

  string(field: number): string {
    return this.bytes(field).toString('utf8');
  }

  message(field: number): ProtoMessage {
    return ProtoMessage.decode(this.bytes(field));
  }

  messages(field: number): ProtoMessage[] {
    return (this.fields.get(field) ?? []).filter(Buffer.isBuffer).map((value) => ProtoMessage.decode(value));
  }
}
