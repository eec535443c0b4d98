/**
 * Generic netlink framing (linux/genetlink.h): the 4-byte `genlmsghdr` (cmd, version, reserved) that precedes
 * the attributes of every NETLINK_GENERIC message, the controller's CTRL_CMD_GETFAMILY to turn a family name
 * into the message type the kernel assigned to it, and an attribute decoder that keeps repeated types in order
 * (generic netlink families nest arrays as repeated attributes of type 0). Pure; reuses the rtnetlink codec's
 * TLV writer.
 */
import { AttributeWriter, align4, attributeString } from '../netlink/codec.js';

/** NETLINK_GENERIC: the netlink protocol number of generic netlink sockets. */
export const NETLINK_GENERIC = 16;
/** GENL_ID_CTRL: the controller family's fixed message type. */
export const GENL_ID_CTRL = 0x10;
export const GENL_HDRLEN = 4;
const CTRL_CMD_GETFAMILY = 3;
const CTRL_ATTR_FAMILY_ID = 1;
const CTRL_ATTR_FAMILY_NAME = 2;
const CTRL_ATTR_VERSION = 3;
/** NLA_F_NESTED | NLA_F_NET_BYTEORDER: flag bits of an attribute's type. */
const NLA_TYPE_MASK = 0x3fff;

export interface Attribute {
  readonly type: number;
  readonly value: Buffer;
}

/** A generic netlink payload: the genlmsghdr, then the attributes. */
export function encodeGenlPayload(command: number, version: number, attributes: Buffer): Buffer {
  const header = Buffer.alloc(GENL_HDRLEN);
  header.writeUInt8(command, 0);
  header.writeUInt8(version, 1);
  return Buffer.concat([header, attributes]);
}

/** Every attribute of `buffer` from `start`, in order, duplicates kept (flag bits masked off the type). */
export function listAttributes(buffer: Buffer, start = 0): Attribute[] {
  const attributes: Attribute[] = [];
  let offset = start;
  while (offset + 4 <= buffer.length) {
    const length = buffer.readUInt16LE(offset);
    if (length < 4 || offset + length > buffer.length) break;
    attributes.push({ type: buffer.readUInt16LE(offset + 2) & NLA_TYPE_MASK, value: buffer.subarray(offset + 4, offset + length) });
    offset += align4(length);
  }
  return attributes;
}

/** CTRL_CMD_GETFAMILY for `name` (sent to GENL_ID_CTRL). */
export function encodeGetFamily(name: string): Buffer {
  return encodeGenlPayload(CTRL_CMD_GETFAMILY, 1, new AttributeWriter().string(CTRL_ATTR_FAMILY_NAME, name).toBuffer());
}

export interface GenlFamily {
  readonly name: string;
  /** The message type of the family's requests. */
  readonly id: number;
  readonly version: number;
}

/** The controller's reply to CTRL_CMD_GETFAMILY; undefined when it lacks the id. */
export function decodeFamily(payload: Buffer): GenlFamily | undefined {
  const attributes = new Map(listAttributes(payload, GENL_HDRLEN).map((attribute) => [attribute.type, attribute.value]));
  const id = attributes.get(CTRL_ATTR_FAMILY_ID);
  if (!id || id.length < 2) return undefined;
  const version = attributes.get(CTRL_ATTR_VERSION);
  return {
    name: attributeString(attributes.get(CTRL_ATTR_FAMILY_NAME)) ?? '',
    id: id.readUInt16LE(0),
    version: version && version.length >= 4 ? version.readUInt32LE(0) : 0,
  };
}
