/**
 * An in-memory TUN for tests: `ChannelTunHost` plays one host's kernel (names, indexes, `ip link del`) and
 * each `ChannelTun` is one open device, with a kernel side (`inject` a packet the kernel routes into the
 * device; `delivered` packets the data path wrote into the kernel). The kernel rules it keeps, checked against
 * a real TUN by the contract test:
 * - one whole packet per read, no packet-information header; reads never block (0 when empty); a packet
 *   that fills the whole read buffer or more is reported as length −1 (the kernel cuts silently, so a full
 *   buffer cannot be told from a cut packet);
 * - a queue of 500 packets (the TUN's txqueuelen); the kernel drops beyond it;
 * - a write must start with IP version 4 or 6 (the kernel answers EINVAL otherwise);
 * - a `%d` template resolves to the lowest free number; an exact name held by an open device is busy (EBUSY);
 * - a deleted device fails every read and write with TUN_GONE, and its name becomes free;
 * - closing the device deletes it (upstream's device is not persistent).
 */
import { FlannelError } from '../../support/errors.js';
import type { PacketBatch, TunDevice, TunOpener } from './packet-ports.js';

const QUEUE_LIMIT = 500;

export class ChannelTunHost implements TunOpener {
  readonly devices = new Map<string, ChannelTun>();

  /** `readBytes`: the read buffer of each device (a packet this long or longer reads as cut, length −1). */
  constructor(private readonly readBytes = 65536) {}

  #nextIndex = 10;
  /** Names taken by devices that are not TUNs (a test can occupy a name). */
  readonly otherLinks = new Set<string>();

  open(name: string): ChannelTun {
    let resolved = name;
    if (name.includes('%d')) {
      let unit = 0;
      while (this.#taken(name.replace('%d', String(unit)))) unit++;
      resolved = name.replace('%d', String(unit));
    } else if (this.devices.has(name)) {
      throw new FlannelError('EBUSY', `TUNSETIFF ${name}: Device or resource busy`);
    } else if (this.otherLinks.has(name)) {
      throw new FlannelError('EINVAL', `TUNSETIFF ${name}: Invalid argument`);
    }
    if (resolved.length > 15) throw new FlannelError('EINVAL', `TUNSETIFF ${resolved}: name too long`);
    const device = new ChannelTun(resolved, this.#nextIndex++, this.readBytes, () => this.devices.delete(resolved));
    this.devices.set(resolved, device);
    return device;
  }

  /** `ip link del NAME`: the device disappears under its holder. False when there is no such device. */
  deleteLink(name: string): boolean {
    const device = this.devices.get(name);
    if (!device) return false;
    device.markGone();
    this.devices.delete(name);
    return true;
  }

  #taken(name: string): boolean {
    return this.devices.has(name) || this.otherLinks.has(name);
  }
}

export class ChannelTun implements TunDevice {
  readonly pollDescriptor = -1;
  /** Packets the data path wrote into the kernel, oldest first (tests read and may clear this). */
  readonly delivered: Uint8Array[] = [];
  /** Called with each delivered packet (a test's "kernel" can answer, e.g. an echo reply). */
  onDeliver: ((packet: Uint8Array) => void) | undefined;
  /** Packets the kernel dropped because the queue was full. */
  queueDrops = 0;
  readonly #queue: Uint8Array[] = [];
  #gone = false;
  #closed = false;

  constructor(
    readonly name: string,
    readonly index: number,
    private readonly readBytes: number,
    private readonly release: () => void,
  ) {}

  /** Kernel side: a packet routed into the device. False when it was dropped (queue full, or device gone). */
  inject(packet: Uint8Array): boolean {
    if (this.#gone || this.#closed) return false;
    if (this.#queue.length >= QUEUE_LIMIT) {
      this.queueDrops++;
      return false;
    }
    this.#queue.push(Uint8Array.from(packet));
    return true;
  }

  get queued(): number {
    return this.#queue.length;
  }

  get gone(): boolean {
    return this.#gone;
  }

  readBatch(batch: PacketBatch, max: number): number {
    this.#checkUsable('read');
    batch.clear();
    while (batch.count < max && this.#queue.length > 0) {
      const packet = this.#queue[0] as Uint8Array;
      const cut = packet.length >= this.readBytes;
      const index = batch.append(cut ? 0 : packet.length);
      if (index < 0) break;
      this.#queue.shift();
      if (cut) batch.lengths[index] = -1;
      else batch.buffer.set(packet, batch.offsets[index] as number);
    }
    batch.drained = this.#queue.length === 0;
    return batch.count;
  }

  writeBatch(batch: PacketBatch, packets: Int32Array, count: number): number {
    let written = 0;
    for (let index = 0; index < count; index++) {
      const packet = packets[index] as number;
      if (this.write(batch.buffer, batch.offsets[packet] as number, batch.lengths[packet] as number)) written++;
      else batch.lengths[packet] = -1;
    }
    return written;
  }

  write(buffer: Buffer, offset: number, length: number): boolean {
    this.#checkUsable('write');
    const version = length > 0 ? (buffer[offset] as number) >> 4 : 0;
    if (version !== 4 && version !== 6) return false;
    const packet = Uint8Array.from(buffer.subarray(offset, offset + length));
    this.delivered.push(packet);
    this.onDeliver?.(packet);
    return true;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue.length = 0;
    if (!this.#gone) this.release();
  }

  /** Used by ChannelTunHost.deleteLink. */
  markGone(): void {
    this.#gone = true;
    this.#queue.length = 0;
  }

  #checkUsable(what: string): void {
    if (this.#closed) throw new FlannelError('EBADF', `TUN ${what} on a closed device`);
    if (this.#gone) throw new FlannelError('TUN_GONE', `TUN device ${this.name} was deleted`);
  }
}
