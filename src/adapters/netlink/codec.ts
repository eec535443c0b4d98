/**
 * Netlink framing: message headers, attributes (TLVs, 4-byte aligned), and error/ACK payloads with the
 * extended-ack message. Pure: Buffers in, Buffers out; round-trip tested without root.
 */
import { getSystemErrorMap } from 'node:util';
import { FlannelError } from '../../support/errors.js';
import { NLMSGERR_ATTR_MSG, NLMSG_HDRLEN, NLM_F_ACK_TLVS, NLM_F_CAPPED } from './constants.js';

export interface NetlinkMessage {
  readonly type: number;
  readonly flags: number;
  readonly seq: number;
  readonly pid: number;
  readonly payload: Buffer;
}

export const align4 = (length: number): number => (length + 3) & ~3;

/** One message, padded to a 4-byte multiple so that several can be concatenated into one write. */
export function encodeMessage(type: number, flags: number, seq: number, body: Buffer): Buffer {
  const length = NLMSG_HDRLEN + body.length;
  const out = Buffer.alloc(align4(length));
  out.writeUInt32LE(length, 0);
  out.writeUInt16LE(type, 4);
  out.writeUInt16LE(flags, 6);
  out.writeUInt32LE(seq >>> 0, 8);
  out.writeUInt32LE(0, 12);
  body.copy(out, NLMSG_HDRLEN);
  return out;
}

export function decodeMessages(buffer: Buffer, length = buffer.length): NetlinkMessage[] {
  const messages: NetlinkMessage[] = [];
  let offset = 0;
  while (offset + NLMSG_HDRLEN <= length) {
    const messageLength = buffer.readUInt32LE(offset);
    if (messageLength < NLMSG_HDRLEN || offset + messageLength > length) break;
    messages.push({
      type: buffer.readUInt16LE(offset + 4),
      flags: buffer.readUInt16LE(offset + 6),
      seq: buffer.readUInt32LE(offset + 8),
      pid: buffer.readUInt32LE(offset + 12),
      payload: buffer.subarray(offset + NLMSG_HDRLEN, offset + messageLength),
    });
    offset += align4(messageLength);
  }
  return messages;
}

/** Builds a run of attributes. */
export class AttributeWriter {
  private readonly parts: Buffer[] = [];

  bytes(type: number, value: Buffer): this {
    const header = Buffer.alloc(4);
    header.writeUInt16LE(4 + value.length, 0);
    header.writeUInt16LE(type, 2);
    this.parts.push(header, value, Buffer.alloc(align4(value.length) - value.length));
    return this;
  }

  u8(type: number, value: number): this {
    return this.bytes(type, Buffer.from([value & 0xff]));
  }

  u16be(type: number, value: number): this {
    const buffer = Buffer.alloc(2);
    buffer.writeUInt16BE(value, 0);
    return this.bytes(type, buffer);
  }

  u32(type: number, value: number): this {
    const buffer = Buffer.alloc(4);
    buffer.writeUInt32LE(value >>> 0, 0);
    return this.bytes(type, buffer);
  }

  string(type: number, value: string): this {
    return this.bytes(type, Buffer.from(value + '\0', 'utf8'));
  }

  flag(type: number): this {
    return this.bytes(type, Buffer.alloc(0));
  }

  nested(type: number, build: (writer: AttributeWriter) => void): this {
    const inner = new AttributeWriter();
    build(inner);
    return this.bytes(type | 0x8000, inner.toBuffer());
  }

  toBuffer(): Buffer {
    return Buffer.concat(this.parts);
  }
}

/** Attributes by type (the NLA_F_NESTED / NET_BYTEORDER bits masked off); the last duplicate wins. */
export function decodeAttributes(buffer: Buffer, start = 0): Map<number, Buffer> {
  const attributes = new Map<number, Buffer>();
  let offset = start;
  while (offset + 4 <= buffer.length) {
    const length = buffer.readUInt16LE(offset);
    const type = buffer.readUInt16LE(offset + 2) & 0x3fff;
    if (length < 4 || offset + length > buffer.length) break;
    attributes.set(type, buffer.subarray(offset + 4, offset + length));
    offset += align4(length);
  }
  return attributes;
}

export function attributeString(value: Buffer | undefined): string | undefined {
  if (!value) return undefined;
  const end = value.indexOf(0);
  return value.toString('utf8', 0, end < 0 ? value.length : end);
}

export interface AckResult {
  /** 0 for success, else the positive errno. */
  readonly errno: number;
  readonly seq: number;
  readonly extendedMessage?: string;
}

/** Decodes an NLMSG_ERROR payload (an ACK when errno is 0). */
export function decodeAck(message: NetlinkMessage): AckResult {
  const errno = -message.payload.readInt32LE(0);
  const echoed = message.payload.subarray(4);
  const seq = echoed.length >= 12 ? echoed.readUInt32LE(8) : message.seq;
  if (!(message.flags & NLM_F_ACK_TLVS)) return { errno, seq };
  const echoedLength = message.flags & NLM_F_CAPPED ? NLMSG_HDRLEN : echoed.readUInt32LE(0);
  const tlvs = decodeAttributes(echoed, align4(echoedLength));
  const extendedMessage = attributeString(tlvs.get(NLMSGERR_ATTR_MSG));
  return extendedMessage ? { errno, seq, extendedMessage } : { errno, seq };
}

const systemErrors = getSystemErrorMap();

/** A typed error for a kernel errno: code = errno name (EEXIST…), message with the extended ack if any. */
export function kernelError(what: string, ack: AckResult): FlannelError {
  const [name, text] = systemErrors.get(-ack.errno) ?? [`ERRNO_${ack.errno}`, `errno ${ack.errno}`];
  const detail = ack.extendedMessage ? `${text}: ${ack.extendedMessage}` : text;
  return new FlannelError(name, `${what}: ${detail}`, { retryable: name === 'ENOBUFS' || name === 'EBUSY' || name === 'EAGAIN' });
}
