/**
 * IP addresses and CIDR prefixes for both families as one pair of value types.
 *
 * An address is a family (4 or 6) and a bigint; there is no IPv4/IPv6 twin code. Values are immutable and
 * compared by value (`equals`). Parsing never throws on bad text: `tryParse*` returns undefined and the
 * throwing variants raise a FlannelError naming the offending text.
 */
import { FlannelError } from '../support/errors.js';

export type IpFamily = 4 | 6;

const BITS: Record<IpFamily, number> = { 4: 32, 6: 128 };

export class IpAddress {
  /** Canonical text, computed once (values are immutable; keys and logs ask for it often). */
  #text: string | undefined;

  private constructor(
    readonly family: IpFamily,
    readonly value: bigint,
  ) {}

  static fromBigInt(family: IpFamily, value: bigint): IpAddress {
    const max = (1n << BigInt(BITS[family])) - 1n;
    if (value < 0n || value > max) throw new FlannelError('IP_RANGE', `address value out of range for IPv${family}`);
    return new IpAddress(family, value);
  }

  /** Parses dotted-quad IPv4 or RFC 4291 IPv6 text (with an optional embedded IPv4 tail). */
  static tryParse(text: string): IpAddress | undefined {
    if (text.includes(':')) {
      const value = parseIpv6(text);
      return value === undefined ? undefined : new IpAddress(6, value);
    }
    const value = parseIpv4(text);
    return value === undefined ? undefined : new IpAddress(4, value);
  }

  static parse(text: string, what = 'IP address'): IpAddress {
    const address = IpAddress.tryParse(text);
    if (!address) throw new FlannelError('BAD_IP', `invalid ${what}: ${JSON.stringify(text)}`);
    return address;
  }

  static fromBytes(bytes: Uint8Array): IpAddress {
    if (bytes.length !== 4 && bytes.length !== 16) throw new FlannelError('BAD_IP', `address of ${bytes.length} bytes`);
    let value = 0n;
    for (const byte of bytes) value = (value << 8n) | BigInt(byte);
    return new IpAddress(bytes.length === 4 ? 4 : 6, value);
  }

  get bits(): number {
    return BITS[this.family];
  }

  toBytes(): Buffer {
    const length = this.bits / 8;
    const out = Buffer.alloc(length);
    let value = this.value;
    for (let index = length - 1; index >= 0; index--) {
      out[index] = Number(value & 0xffn);
      value >>= 8n;
    }
    return out;
  }

  add(offset: bigint): IpAddress {
    return IpAddress.fromBigInt(this.family, this.value + offset);
  }

  equals(other: IpAddress | undefined): boolean {
    return other !== undefined && other.family === this.family && other.value === this.value;
  }

  compare(other: IpAddress): number {
    if (this.family !== other.family) return this.family - other.family;
    return this.value < other.value ? -1 : this.value > other.value ? 1 : 0;
  }

  isUnspecified(): boolean {
    return this.value === 0n;
  }

  /** fe80::/10 — used to prefer global addresses when choosing an interface address. */
  isLinkLocal(): boolean {
    if (this.family === 4) return this.value >> 16n === 0xa9fen;
    return this.value >> 118n === 0x3fan;
  }

  /** Canonical text: dotted quad, or RFC 5952 compressed lower-case IPv6 (as Go's net.IP.String()). */
  toString(): string {
    if (this.#text === undefined) {
      if (this.family === 4) {
        const value = Number(this.value);
        this.#text = `${value >>> 24}.${(value >>> 16) & 0xff}.${(value >>> 8) & 0xff}.${value & 0xff}`;
      } else {
        this.#text = formatIpv6(this.value);
      }
    }
    return this.#text;
  }

  toJSON(): string {
    return this.toString();
  }
}

export class Cidr {
  #text: string | undefined;

  private constructor(
    readonly ip: IpAddress,
    readonly prefixLength: number,
  ) {}

  static of(ip: IpAddress, prefixLength: number): Cidr {
    if (!Number.isInteger(prefixLength) || prefixLength < 0 || prefixLength > ip.bits) {
      throw new FlannelError('BAD_CIDR', `prefix length ${prefixLength} out of range for IPv${ip.family}`);
    }
    return new Cidr(ip, prefixLength);
  }

  /** Parses `a.b.c.d/n` or `x::/n`; the host part is kept (see `masked()`). */
  static tryParse(text: string): Cidr | undefined {
    const slash = text.indexOf('/');
    if (slash < 0) return undefined;
    const ip = IpAddress.tryParse(text.slice(0, slash));
    const lengthText = text.slice(slash + 1);
    if (!ip || !/^\d{1,3}$/.test(lengthText)) return undefined;
    const prefixLength = Number(lengthText);
    if (prefixLength > ip.bits) return undefined;
    return new Cidr(ip, prefixLength);
  }

  static parse(text: string, what = 'CIDR'): Cidr {
    const cidr = Cidr.tryParse(text);
    if (!cidr) throw new FlannelError('BAD_CIDR', `invalid ${what}: ${JSON.stringify(text)}`);
    return cidr;
  }

  get family(): IpFamily {
    return this.ip.family;
  }

  /** Number of addresses in the prefix. */
  get size(): bigint {
    return 1n << BigInt(this.ip.bits - this.prefixLength);
  }

  get mask(): bigint {
    const hostBits = BigInt(this.ip.bits - this.prefixLength);
    const all = (1n << BigInt(this.ip.bits)) - 1n;
    return (all >> hostBits) << hostBits;
  }

  /** The network address with host bits cleared, as Go's net.ParseCIDR returns it. */
  masked(): Cidr {
    const value = this.ip.value & this.mask;
    return value === this.ip.value ? this : new Cidr(IpAddress.fromBigInt(this.family, value), this.prefixLength);
  }

  contains(ip: IpAddress): boolean {
    return ip.family === this.family && (ip.value & this.mask) === (this.ip.value & this.mask);
  }

  /** True when `other` lies entirely inside this prefix. */
  containsCidr(other: Cidr): boolean {
    return other.family === this.family && this.prefixLength <= other.prefixLength && this.contains(other.ip);
  }

  overlaps(other: Cidr): boolean {
    if (other.family !== this.family) return false;
    return this.contains(other.ip) || other.contains(this.ip);
  }

  /** The prefix of the same length that follows this one (Go's IP4Net.Next()). */
  next(): Cidr {
    return new Cidr(this.masked().ip.add(this.size), this.prefixLength);
  }

  equals(other: Cidr | undefined): boolean {
    return other !== undefined && this.ip.equals(other.ip) && this.prefixLength === other.prefixLength;
  }

  toString(): string {
    return (this.#text ??= `${this.ip.toString()}/${this.prefixLength}`);
  }

  toJSON(): string {
    return this.toString();
  }
}

// Go's ParseIP rejects leading zeros ("010") since 1.17; so do we, to avoid octal ambiguity.
const IPV4 = /^(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})$/;

function parseIpv4(text: string): bigint | undefined {
  const match = IPV4.exec(text);
  if (!match) return undefined;
  let value = 0;
  for (let index = 1; index <= 4; index++) {
    const octet = Number(match[index]);
    if (octet > 255) return undefined;
    value = value * 256 + octet;
  }
  return BigInt(value);
}

function parseIpv6(text: string): bigint | undefined {
  let tailWords: number[] = [];
  let body = text;
  const lastColon = text.lastIndexOf(':');
  const lastGroup = text.slice(lastColon + 1);
  if (lastGroup.includes('.')) {
    // Embedded IPv4 tail (::ffff:1.2.3.4): two words from the dotted quad.
    const v4 = parseIpv4(lastGroup);
    if (v4 === undefined) return undefined;
    tailWords = [Number(v4 >> 16n), Number(v4 & 0xffffn)];
    body = text.slice(0, lastColon + 1);
    if (!body.endsWith('::')) body = body.slice(0, -1);
  }
  const wanted = 8 - tailWords.length;
  const doubleColon = body.indexOf('::');
  if (doubleColon !== body.lastIndexOf('::')) return undefined;
  let words: number[];
  if (doubleColon >= 0) {
    const left = parseGroups(body.slice(0, doubleColon));
    const right = parseGroups(body.slice(doubleColon + 2));
    if (!left || !right || left.length + right.length > wanted - 1) return undefined;
    words = [...left, ...new Array<number>(wanted - left.length - right.length).fill(0), ...right];
  } else {
    const all = parseGroups(body);
    if (!all || all.length !== wanted) return undefined;
    words = all;
  }
  let value = 0n;
  for (const word of [...words, ...tailWords]) value = (value << 16n) | BigInt(word);
  return value;
}

function parseGroups(part: string): number[] | undefined {
  if (part === '') return [];
  const words: number[] = [];
  for (const group of part.split(':')) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(group)) return undefined;
    words.push(parseInt(group, 16));
  }
  return words;
}

function formatIpv6(value: bigint): string {
  const words: number[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) words.push(Number((value >> shift) & 0xffffn));
  // Longest run of two or more zero words is compressed (RFC 5952 §4.2.2/4.2.3), first one on ties.
  let bestStart = -1;
  let bestLength = 0;
  for (let index = 0; index < 8; ) {
    if (words[index] !== 0) {
      index++;
      continue;
    }
    let end = index;
    while (end < 8 && words[end] === 0) end++;
    if (end - index > bestLength && end - index >= 2) {
      bestStart = index;
      bestLength = end - index;
    }
    index = end;
  }
  const hex = (list: number[]) => list.map((word) => word.toString(16)).join(':');
  if (bestStart < 0) return hex(words);
  return `${hex(words.slice(0, bestStart))}::${hex(words.slice(bestStart + bestLength))}`;
}
