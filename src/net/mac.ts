/**
 * Ethernet MAC addresses: parse, format (lower-case colon form, as flannel writes VtepMAC), and a random
 * locally administered unicast address (the kind flannel gives its VXLAN device).
 */
import { FlannelError } from '../support/errors.js';

export class MacAddress {
  #text: string | undefined;

  /** The 48 bits as one number (exact below 2^53): no Buffer per address, which costs ~100 bytes per entry. */
  private constructor(private readonly value: number) {}

  static tryParse(text: string): MacAddress | undefined {
    if (!/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/.test(text)) return undefined;
    return new MacAddress(Number.parseInt(text.replace(/:/g, ''), 16));
  }

  static parse(text: string, what = 'MAC address'): MacAddress {
    const mac = MacAddress.tryParse(text);
    if (!mac) throw new FlannelError('BAD_MAC', `invalid ${what}: ${JSON.stringify(text)}`);
    return mac;
  }

  static fromBytes(bytes: Uint8Array): MacAddress {
    if (bytes.length !== 6) throw new FlannelError('BAD_MAC', `MAC address of ${bytes.length} bytes`);
    return new MacAddress(Buffer.from(bytes.buffer, bytes.byteOffset, 6).readUIntBE(0, 6));
  }

  /** Random unicast, locally administered (bit 1 of the first octet set, bit 0 clear). */
  static random(randomBytes: (count: number) => Uint8Array): MacAddress {
    const bytes = Buffer.from(randomBytes(6));
    bytes[0] = ((bytes[0] ?? 0) & 0xfe) | 0x02;
    return MacAddress.fromBytes(bytes);
  }

  toBytes(): Buffer {
    const bytes = Buffer.alloc(6);
    bytes.writeUIntBE(this.value, 0, 6);
    return bytes;
  }

  equals(other: MacAddress | undefined): boolean {
    return other !== undefined && this.value === other.value;
  }

  toString(): string {
    return (this.#text ??= this.value.toString(16).padStart(12, '0').replace(/(..)(?!$)/g, '$1:'));
  }

  toJSON(): string {
    return this.toString();
  }
}
