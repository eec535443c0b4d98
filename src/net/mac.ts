/**
 * Ethernet MAC addresses: parse, format (lower-case colon form, as flannel writes VtepMAC), and a random
 * locally administered unicast address (the kind flannel gives its VXLAN device).
 */
import { FlannelError } from '../support/errors.js';

export class MacAddress {
  #text: string | undefined;

  private constructor(private readonly bytes: Buffer) {}

  static tryParse(text: string): MacAddress | undefined {
    if (!/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/.test(text)) return undefined;
    return new MacAddress(Buffer.from(text.replace(/:/g, ''), 'hex'));
  }

  static parse(text: string, what = 'MAC address'): MacAddress {
    const mac = MacAddress.tryParse(text);
    if (!mac) throw new FlannelError('BAD_MAC', `invalid ${what}: ${JSON.stringify(text)}`);
    return mac;
  }

  static fromBytes(bytes: Uint8Array): MacAddress {
    if (bytes.length !== 6) throw new FlannelError('BAD_MAC', `MAC address of ${bytes.length} bytes`);
    return new MacAddress(Buffer.from(bytes));
  }

  /** Random unicast, locally administered (bit 1 of the first octet set, bit 0 clear). */
  static random(randomBytes: (count: number) => Uint8Array): MacAddress {
    const bytes = Buffer.from(randomBytes(6));
    bytes[0] = ((bytes[0] ?? 0) & 0xfe) | 0x02;
    return new MacAddress(bytes);
  }

  toBytes(): Buffer {
    return Buffer.from(this.bytes);
  }

  equals(other: MacAddress | undefined): boolean {
    return other !== undefined && this.bytes.equals(other.bytes);
  }

  toString(): string {
    return (this.#text ??= [...this.bytes].map((byte) => byte.toString(16).padStart(2, '0')).join(':'));
  }

  toJSON(): string {
    return this.toString();
  }
}
