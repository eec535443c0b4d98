/**
 * gRPC's length-prefixed message framing (uncompressed only: we never ask etcd to compress), pure.
 */

/** One gRPC message: a zero compression flag, a 4-byte big-endian length, the protobuf bytes. */
export function frame(message: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.writeUInt32BE(message.length, 1);
  return Buffer.concat([header, message]);
}

/** Splits complete gRPC messages off the front of `buffer`; returns them and the incomplete rest. */
export function unframe(buffer: Buffer): { messages: Buffer[]; rest: Buffer } {
  const messages: Buffer[] = [];
  let offset = 0;
  while (buffer.length - offset >= 5) {
    const length = buffer.readUInt32BE(offset + 1);
    if (buffer.length - offset - 5 < length) break;
    messages.push(buffer.subarray(offset + 5, offset + 5 + length));
    offset += 5 + length;
  }
  return { messages, rest: buffer.subarray(offset) };
}
