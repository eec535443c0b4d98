/**
 * A WireGuard key (Curve25519, 32 bytes): private keys, public keys and preshared keys alike. Text forms are
 * what the tools speak: base64 in config files, leases and `wg`, lower-case hex on wireguard-go's UAPI.
 *
 * Parsing follows upstream's `wgtypes.ParseKey` (Go's strict standard base64, which skips CR and LF anywhere,
 * then exactly 32 bytes), so a key file written by `wg genkey > file` (trailing newline) is accepted and a
 * truncated or padded one is refused with the reason. Public keys are derived with node:crypto's X25519, which
 * clamps the scalar as WireGuard does; generated private keys are clamped like `wg genkey`'s. Values are
 * immutable and compared by value. There is deliberately no toJSON: a logged object holding a private key or a
 * PSK prints `{}`, never the secret (call toString() where the text is wanted).
 */
import { createPrivateKey, createPublicKey, randomBytes } from 'node:crypto';
import { FlannelError } from '../../support/errors.js';

export const WIREGUARD_KEY_BYTES = 32;
/** PKCS#8 DER header of an X25519 private key (RFC 8410); the raw 32-byte scalar follows. */
const X25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export class WireguardKey {
  readonly #bytes: Buffer;

  private constructor(bytes: Buffer) {
    this.#bytes = bytes;
  }

  static fromBytes(bytes: Uint8Array): WireguardKey {
    if (bytes.length !== WIREGUARD_KEY_BYTES) throw new FlannelError('BAD_WIREGUARD_KEY', `a WireGuard key has ${WIREGUARD_KEY_BYTES} bytes, got ${bytes.length}`);
    return new WireguardKey(Buffer.from(bytes));
  }

  /** The key, or why `text` is not a base64 WireGuard key (the reason names no secret: keys may be private). */
  static tryParse(text: string): WireguardKey | string {
    const compact = text.replace(/[\r\n]/g, '');
    if (compact.length === 0) return 'empty';
    if (compact.length % 4 !== 0 || !BASE64.test(compact)) return `not base64 (${compact.length} characters)`;
    const bytes = Buffer.from(compact, 'base64');
    if (bytes.length !== WIREGUARD_KEY_BYTES) return `incorrect key size: ${bytes.length} bytes, expected ${WIREGUARD_KEY_BYTES}`;
    return new WireguardKey(bytes);
  }

  /** Throws FlannelError('BAD_WIREGUARD_KEY') naming `what` and the reason. */
  static parse(text: string, what = 'WireGuard key'): WireguardKey {
    const key = WireguardKey.tryParse(text);
    if (typeof key === 'string') throw new FlannelError('BAD_WIREGUARD_KEY', `could not parse ${what}: ${key}`);
    return key;
  }

  /** 64 hex digits (wireguard-go's UAPI); undefined when malformed. */
  static tryFromHex(text: string): WireguardKey | undefined {
    if (!/^[0-9a-fA-F]{64}$/.test(text)) return undefined;
    return new WireguardKey(Buffer.from(text, 'hex'));
  }

  /** A fresh private key from `random` (32 bytes), clamped as Curve25519 expects. */
  static generatePrivate(random: (size: number) => Buffer = randomBytes): WireguardKey {
    const bytes = Buffer.from(random(WIREGUARD_KEY_BYTES));
    if (bytes.length !== WIREGUARD_KEY_BYTES) throw new FlannelError('BAD_WIREGUARD_KEY', `random source returned ${bytes.length} bytes`);
    bytes[0] = (bytes[0] ?? 0) & 248;
    bytes[31] = ((bytes[31] ?? 0) & 127) | 64;
    return new WireguardKey(bytes);
  }

  /** All-zero: what the kernel and wireguard-go report for "no preshared key". */
  static readonly ZERO = new WireguardKey(Buffer.alloc(WIREGUARD_KEY_BYTES));

  /** The public key of this private key (X25519 base-point multiplication, as `wg pubkey`). */
  publicKey(): WireguardKey {
    const privateKey = createPrivateKey({ key: Buffer.concat([X25519_PKCS8_PREFIX, this.#bytes]), format: 'der', type: 'pkcs8' });
    const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
    return new WireguardKey(Buffer.from(spki.subarray(spki.length - WIREGUARD_KEY_BYTES)));
  }

  isZero(): boolean {
    return this.#bytes.every((byte) => byte === 0);
  }

  toBytes(): Buffer {
    return Buffer.from(this.#bytes);
  }

  toHex(): string {
    return this.#bytes.toString('hex');
  }

  /** Standard base64 with padding (44 characters), as `wg` and upstream's leases write it. */
  toString(): string {
    return this.#bytes.toString('base64');
  }

  equals(other: WireguardKey | undefined): boolean {
    return other !== undefined && this.#bytes.equals(other.#bytes);
  }
}
