/**
 * A real TUN device: /dev/net/tun, TUNSETIFF with IFF_TUN|IFF_NO_PI (raw IPv4 packets, no packet-information
 * header, as upstream), non-blocking, close-on-exec. Not persistent: the kernel deletes the device when its
 * descriptor closes, as upstream's does. When someone deletes the device (`ip link del`), the kernel answers
 * reads and writes with EBADFD and poll with POLLERR; both surface here as FlannelError TUN_GONE.
 */
import { Counter, type DatapathCounters } from '../../backend/udp/datapath-counters.js';
import type { PacketBatch, TunDevice, TunOpener } from '../../backend/udp/packet-ports.js';
import { FlannelError } from '../../support/errors.js';
import * as S from './datapath-syscalls.js';

/** Syscalls are counted where they are made. */
type Counters = DatapathCounters;

export class KernelTunOpener implements TunOpener {
  /** A socket for SIOCGIFINDEX (any socket of the namespace answers it). */
  readonly #querySocket: number;

  constructor(private readonly counters: Counters) {
    this.#querySocket = S.check(S.sys.socket(S.AF_INET, S.SOCK_DGRAM | S.SOCK_CLOEXEC, 0) as number, 'socket');
  }

  open(name: string): KernelTun {
    if (Buffer.byteLength(name) > 15) throw new FlannelError('EINVAL', `TUN name ${JSON.stringify(name)} is longer than 15 bytes`);
    const fd = S.check(S.sys.open('/dev/net/tun', S.O_RDWR | S.O_NONBLOCK | S.O_CLOEXEC) as number, 'open /dev/net/tun');
    try {
      const request = Buffer.alloc(S.IFREQ_BYTES);
      request.write(name, 0, 15, 'ascii');
      request.writeUInt16LE(S.IFF_TUN | S.IFF_NO_PI, 16);
      S.check(S.sys.ioctl(fd, S.TUNSETIFF, request) as number, `TUNSETIFF ${name}`);
      const resolved = request.toString('ascii', 0, request.indexOf(0) < 0 ? 16 : request.indexOf(0));
      return new KernelTun(fd, resolved, this.#indexOf(resolved), this.counters);
    } catch (error) {
      S.sys.close(fd);
      throw error;
    }
  }

  close(): void {
    S.sys.close(this.#querySocket);
  }

  #indexOf(name: string): number {
    const request = Buffer.alloc(S.IFREQ_BYTES);
    request.write(name, 0, 15, 'ascii');
    S.check(S.sys.ioctl(this.#querySocket, S.SIOCGIFINDEX, request) as number, `SIOCGIFINDEX ${name}`);
    return request.readInt32LE(16);
  }
}

export class KernelTun implements TunDevice {
  #fd: number;
  readonly #addresses = new Map<ArrayBufferLike, number>();

  constructor(
    fd: number,
    readonly name: string,
    readonly index: number,
    private readonly counters: Counters,
  ) {
    this.#fd = fd;
  }

  get pollDescriptor(): number {
    return this.#fd;
  }

  readBatch(batch: PacketBatch, max: number): number {
    const base = this.#addressOf(batch.buffer);
    const slotBytes = batch.slotBytes;
    const lengths = batch.lengths;
    let count = 0;
    let calls = 0;
    while (count < max) {
      calls++;
      const result = S.sys.read(this.#fd, base + count * slotBytes, slotBytes) as number;
      if (result >= 0) {
        // The kernel silently cuts a packet to the buffer and returns what it copied, so a read that fills the
        // whole slot may have lost a tail: report it as too large rather than forward a cut packet.
        lengths[count++] = result < slotBytes ? result : -1;
        continue;
      }
      const code = S.errno();
      if (code === S.EAGAIN) break;
      if (code === S.EINTR) continue;
      this.counters.add(Counter.syscallTunRead, calls);
      throw this.#failure('read', code);
    }
    this.counters.add(Counter.syscallTunRead, calls);
    return count;
  }

  write(buffer: Uint8Array, offset: number, length: number): boolean {
    const base = this.#addressOf(buffer);
    for (;;) {
      this.counters.add(Counter.syscallTunWrite);
      const result = S.sys.write(this.#fd, base + offset, length) as number;
      if (result === length) return true;
      if (result >= 0) return false;
      const code = S.errno();
      // The TUN queue towards the stack never blocks for long; upstream retries EAGAIN the same way.
      if (code === S.EINTR || code === S.EAGAIN) continue;
      // EINVAL: not IPv4/IPv6; EIO/EFAULT: malformed. The kernel refused this one packet.
      if (code === S.EINVAL || code === S.EIO || code === S.EFAULT || code === S.EMSGSIZE) return false;
      throw this.#failure('write', code);
    }
  }

  close(): void {
    if (this.#fd < 0) return;
    S.sys.close(this.#fd);
    this.#fd = -1;
  }

  /**
   * The forwarder passes a few preallocated buffers (over 64 bytes, so V8 keeps them off its heap and never
   * moves them); their memory's address is looked up once.
   */
  #addressOf(view: Uint8Array): number {
    let address = this.#addresses.get(view.buffer);
    if (address === undefined) {
      address = S.addressOf(Buffer.from(view.buffer, 0, view.buffer.byteLength));
      this.#addresses.set(view.buffer, address);
    }
    return address + view.byteOffset;
  }

  #failure(what: string, code: number): FlannelError {
    if (code === S.EBADFD) return new FlannelError('TUN_GONE', `TUN device ${this.name} was deleted`);
    return S.errnoError(`TUN ${what} on ${this.name}`, code);
  }
}
