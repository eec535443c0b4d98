/**
 * A real TUN device: /dev/net/tun, TUNSETIFF with IFF_TUN|IFF_NO_PI (raw IPv4 packets, no packet-information
 * header, as upstream), non-blocking, close-on-exec. Not persistent: the kernel deletes the device when its
 * descriptor closes, as upstream's does. When someone deletes the device (`ip link del`), the kernel answers
 * reads and writes with EBADFD and poll with POLLERR; both surface here as FlannelError TUN_GONE.
 *
 * With `offload`, the device also has IFF_VNET_HDR and TUNSETOFFLOAD(TUN_F_CSUM | TUN_F_TSO4): a read may bring
 * a TCP superpacket of up to 64 KiB, which is split into wire-sized segments here (tcp-segmenter.ts), and
 * consecutive TCP segments of one flow are written as one superpacket (tcp-coalescer.ts). The port still
 * hands out and takes single packets, so nothing on the wire changes. A kernel refusing the offload ioctl gets
 * a plain device.
 */
import { writeFileSync } from 'node:fs';
import { copyBytes } from '../../backend/udp/byte-copy.js';
import { Counter, type DatapathCounters } from '../../backend/udp/datapath-counters.js';
import type { PacketBatch, TunDevice, TunOpener } from '../../backend/udp/packet-ports.js';
import { ChecksumArena } from '../../backend/udp/simd-checksum.js';
import { COALESCED_HEADER_MAX_BYTES, coalescibleRun, writeCoalescedHeader } from '../../backend/udp/tcp-coalescer.js';
import { completeChecksum, segmentTcp } from '../../backend/udp/tcp-segmenter.js';
import {
  VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_NONE, VIRTIO_NET_HDR_GSO_TCPV4, VIRTIO_NET_HEADER_BYTES, emptyVirtioNetHeader, readVirtioNetHeader,
} from '../../backend/udp/virtio-net-header.js';
import { FlannelError } from '../../support/errors.js';
import * as S from './datapath-syscalls.js';

export interface KernelTunOptions {
  readonly counters: DatapathCounters;
  /** Read buffer per packet without offloads (a read that fills it counts as cut): above the MTU. */
  readonly packetBytes: number;
  /** Ask for TSO reads and coalesced writes (IFF_VNET_HDR + TUNSETOFFLOAD). */
  readonly offload: boolean;
}

/** The most a read can bring with offloads: the virtio header, a 64 KiB superpacket, one byte to spot a cut. */
const SUPERPACKET_READ_BYTES = VIRTIO_NET_HEADER_BYTES + 65536;

export class KernelTunOpener implements TunOpener {
  /** A socket for SIOCGIFINDEX (any socket of the namespace answers it). */
  readonly #querySocket: number;
  /** Whether the last device opened got offloads (false when the kernel refused them, or none was asked for). */
  lastOpenedWithOffload = false;

  constructor(private readonly options: KernelTunOptions) {
    S.assertSupportedPlatform();
    this.#querySocket = S.check(S.sys.socket(S.AF_INET, S.SOCK_DGRAM | S.SOCK_CLOEXEC, 0) as number, 'socket');
  }

  open(name: string): KernelTun {
    if (this.options.offload) {
      try {
        return this.#open(name, true);
      } catch (error) {
        if (!(error instanceof FlannelError) || error.code !== 'TUN_NO_OFFLOAD') throw error;
      }
    }
    return this.#open(name, false);
  }

  close(): void {
    S.sys.close(this.#querySocket);
  }

  #open(name: string, offload: boolean): KernelTun {
    if (Buffer.byteLength(name) > 15) throw new FlannelError('EINVAL', `TUN name ${JSON.stringify(name)} is longer than 15 bytes`);
    const fd = S.check(S.sys.open('/dev/net/tun', S.O_RDWR | S.O_NONBLOCK | S.O_CLOEXEC) as number, 'open /dev/net/tun');
    try {
      const request = Buffer.alloc(S.IFREQ_BYTES);
      request.write(name, 0, 15, 'ascii');
      request.writeUInt16LE(S.IFF_TUN | S.IFF_NO_PI | (offload ? S.IFF_VNET_HDR : 0), 16);
      S.check(S.sys.ioctl(fd, S.TUNSETIFF, request) as number, `TUNSETIFF ${name}`);
      if (offload && (S.sys.ioctlValue(fd, S.TUNSETOFFLOAD, S.TUN_F_CSUM | S.TUN_F_TSO4) as number) < 0) {
        throw new FlannelError('TUN_NO_OFFLOAD', 'TUNSETOFFLOAD refused');
      }
      const end = request.indexOf(0);
      const resolved = request.toString('ascii', 0, end < 0 || end > 16 ? 16 : end);
      disableIpv6(resolved);
      const device = new KernelTun(fd, resolved, this.#indexOf(resolved), this.options, offload);
      this.lastOpenedWithOffload = offload;
      return device;
    } catch (error) {
      S.sys.close(fd);
      throw error;
    }
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
  readonly #counters: DatapathCounters;
  readonly #packetBytes: number;
  readonly #addresses = new Map<ArrayBufferLike, number>();
  /**
   * The last view looked up and its address, compared by identity: the forwarder passes the same batch buffer
   * every time, and `view.buffer` / `view.byteOffset` are calls into the runtime, not field loads.
   */
  #lastView: Uint8Array | undefined;
  #lastAddress = 0;
  /** Offload mode: where superpackets are read (and its address), the header of coalesced writes, iovecs. */
  readonly #scratch: Buffer | undefined;
  readonly #scratchAddress: number;
  readonly #header = Buffer.alloc(Math.max(COALESCED_HEADER_MAX_BYTES, 8192));
  /** The virtio header of a plain packet (all zero): never written, so a write needs no fill first. */
  readonly #plainHeader = Buffer.alloc(8192);
  readonly #plainHeaderAddress = S.addressOf(this.#plainHeader);
  readonly #iovecs = Buffer.alloc(8192);
  readonly #iovecWords = new Uint32Array(this.#iovecs.buffer, this.#iovecs.byteOffset, this.#iovecs.length / 4);
  readonly #virtio = emptyVirtioNetHeader();
  readonly #headerAddress = S.addressOf(this.#header);
  readonly #iovecsAddress = S.addressOf(this.#iovecs);
  /** Bytes of a read still in the scratch buffer because the last batch had no room for it. */
  #pendingBytes = 0;

  constructor(
    fd: number,
    readonly name: string,
    readonly index: number,
    options: KernelTunOptions,
    readonly offload: boolean,
  ) {
    this.#fd = fd;
    this.#counters = options.counters;
    this.#packetBytes = options.packetBytes;
    // In a ChecksumArena, so that segmentation checksums payloads with WebAssembly SIMD where it can.
    this.#scratch = offload ? (ChecksumArena.create(SUPERPACKET_READ_BYTES)?.buffer ?? Buffer.alloc(SUPERPACKET_READ_BYTES)) : undefined;
    this.#scratchAddress = this.#scratch ? this.#addressOf(this.#scratch) : 0;
  }

  get pollDescriptor(): number {
    return this.#fd;
  }

  readBatch(batch: PacketBatch, max: number): number {
    batch.clear();
    return this.#scratch ? this.#readOffloaded(batch, max, this.#scratch) : this.#readPlain(batch, max);
  }

  writeBatch(batch: PacketBatch, packets: Int32Array, count: number): number {
    let written = 0;
    if (!this.offload) {
      for (let index = 0; index < count; index++) {
        const packet = packets[index] as number;
        if (this.write(batch.buffer, batch.offsets[packet] as number, batch.lengths[packet] as number)) written++;
        else batch.lengths[packet] = -1;
      }
      return written;
    }
    const base = this.#addressOf(batch.buffer);
    const iovecs = this.#iovecWords;
    for (let start = 0; start < count;) {
      // A last packet is a run of one: no need to ask (a lone packet's write skips the coalescer, whose early
      // exit for non-TCP packets is too little work for V8 ever to optimize it, so it ran in baseline code).
      const run = start + 1 < count ? coalescibleRun(batch, packets, start, count) : 1;
      let vectors: number;
      if (run > 1) {
        const headerBytes = writeCoalescedHeader(batch, packets, start, run, this.#header, 0);
        const headers = headerBytes - VIRTIO_NET_HEADER_BYTES;
        setIovec(iovecs, 0, this.#headerAddress, headerBytes);
        for (let index = 0; index < run; index++) {
          const packet = packets[start + index] as number;
          setIovec(iovecs, index + 1, base + (batch.offsets[packet] as number) + headers, (batch.lengths[packet] as number) - headers);
        }
        vectors = run + 1;
        this.#counters.add(Counter.tunSuperpacketsWritten);
      } else {
        const packet = packets[start] as number;
        setIovec(iovecs, 0, this.#plainHeaderAddress, VIRTIO_NET_HEADER_BYTES);
        setIovec(iovecs, 1, base + (batch.offsets[packet] as number), batch.lengths[packet] as number);
        vectors = 2;
      }
      if (this.#writeVectors(vectors)) written += run;
      else for (let index = 0; index < run; index++) batch.lengths[packets[start + index] as number] = -1;
      start += run;
    }
    return written;
  }

  write(buffer: Buffer, offset: number, length: number): boolean {
    const address = this.#addressOf(buffer) + offset;
    if (this.offload) {
      setIovec(this.#iovecWords, 0, this.#plainHeaderAddress, VIRTIO_NET_HEADER_BYTES);
      setIovec(this.#iovecWords, 1, address, length);
      return this.#writeVectors(2);
    }
    for (;;) {
      this.#counters.add(Counter.syscallTunWrite);
      const result = S.sys.write(this.#fd, address, length) as number;
      if (result >= 0) return result === length;
      if (!this.#retryable(S.errno(), 'write')) return false;
    }
  }

  close(): void {
    if (this.#fd < 0) return;
    S.sys.close(this.#fd);
    this.#fd = -1;
  }

  #readPlain(batch: PacketBatch, max: number): number {
    const base = this.#addressOf(batch.buffer);
    const readBytes = this.#packetBytes;
    let calls = 0;
    try {
      const limit = Math.min(max, batch.capacity);
      while (batch.count < limit && batch.free >= readBytes) {
        calls++;
        const result = S.sys.read(this.#fd, base + batch.end, readBytes) as number;
        if (result >= 0) {
          // The kernel silently cuts a packet to the buffer and returns what it copied, so a read that fills
          // the whole buffer may have lost a tail: report it as too large rather than forward a cut packet.
          if (result < readBytes) batch.append(result);
          else batch.lengths[batch.append(0)] = -1;
          continue;
        }
        const code = S.errno();
        if (code === S.EAGAIN) {
          batch.drained = true;
          break;
        }
        if (code !== S.EINTR) throw this.#failure('read', code);
      }
    } finally {
      this.#counters.add(Counter.syscallTunRead, calls);
    }
    return batch.count;
  }

  #readOffloaded(batch: PacketBatch, max: number, scratch: Buffer): number {
    const scratchAddress = this.#scratchAddress;
    let calls = 0;
    try {
      while (batch.count < max) {
        if (this.#pendingBytes === 0) {
          calls++;
          const result = S.sys.read(this.#fd, scratchAddress, SUPERPACKET_READ_BYTES) as number;
          if (result < 0) {
            const code = S.errno();
            if (code === S.EAGAIN) {
              batch.drained = true;
              break;
            }
            if (code !== S.EINTR) throw this.#failure('read', code);
            continue;
          }
          this.#pendingBytes = result;
        }
        if (!this.#placeRead(batch, scratch, this.#pendingBytes)) break;
        this.#pendingBytes = 0;
      }
    } finally {
      this.#counters.add(Counter.syscallTunRead, calls);
    }
    return batch.count;
  }

  /**
   * Puts what one read brought (virtio header + packet) into `batch`: a superpacket as its segments, a packet
   * with a partial checksum completed. False when the batch has no room left for it: it stays in the scratch
   * buffer for the next batch (unless even an empty batch could not take it: then it is dropped and counted).
   */
  #placeRead(batch: PacketBatch, scratch: Buffer, result: number): boolean {
    if (result >= SUPERPACKET_READ_BYTES || result < VIRTIO_NET_HEADER_BYTES) {
      if (batch.count >= batch.capacity) return false;
      batch.lengths[batch.append(0)] = -1;
      return true;
    }
    const virtio = readVirtioNetHeader(scratch, 0, this.#virtio);
    const length = result - VIRTIO_NET_HEADER_BYTES;
    if (virtio.gsoType === VIRTIO_NET_HDR_GSO_TCPV4) {
      const segments = segmentTcp(scratch, VIRTIO_NET_HEADER_BYTES, length, virtio.gsoSize, batch);
      if (segments === 0 && batch.count > 0) return false;
      this.#counters.add(segments > 0 ? Counter.tunSuperpacketsRead : Counter.dropBadOffload);
      return true;
    }
    if (virtio.gsoType !== VIRTIO_NET_HDR_GSO_NONE
      || ((virtio.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) !== 0 && !completeChecksum(scratch, VIRTIO_NET_HEADER_BYTES, length, virtio.checksumStart, virtio.checksumOffset))) {
      this.#counters.add(Counter.dropBadOffload);
      return true;
    }
    const index = batch.append(length);
    if (index < 0) return false;
    copyBytes(scratch, VIRTIO_NET_HEADER_BYTES, result, batch.buffer, batch.offsets[index] as number);
    return true;
  }

  /** writev of the first `count` iovecs; false when the kernel refused the packet. */
  #writeVectors(count: number): boolean {
    const iovecsAddress = this.#iovecsAddress;
    for (;;) {
      this.#counters.add(Counter.syscallTunWrite);
      const result = S.sys.writev(this.#fd, iovecsAddress, count) as number;
      if (result >= 0) return true;
      if (!this.#retryable(S.errno(), 'write')) return false;
    }
  }

  /** After a failed write: true to try again, false when the kernel refused this packet; throws otherwise. */
  #retryable(code: number, what: string): boolean {
    // The TUN queue towards the stack never blocks for long; upstream retries EAGAIN the same way.
    if (code === S.EINTR || code === S.EAGAIN) return true;
    // EINVAL: not IPv4/IPv6 or a bad virtio header; EIO/EFAULT: malformed. The kernel refused this one packet.
    if (code === S.EINVAL || code === S.EIO || code === S.EFAULT || code === S.EMSGSIZE) return false;
    throw this.#failure(what, code);
  }

  /**
   * The forwarder passes a few preallocated buffers (over 64 bytes, so V8 keeps them off its heap and never
   * moves them); their memory's address is looked up once.
   */
  #addressOf(view: Uint8Array): number {
    if (view === this.#lastView) return this.#lastAddress;
    let address = this.#addresses.get(view.buffer);
    if (address === undefined) {
      address = S.addressOf(Buffer.from(view.buffer, 0, view.buffer.byteLength));
      this.#addresses.set(view.buffer, address);
    }
    this.#lastView = view;
    this.#lastAddress = address + view.byteOffset;
    return this.#lastAddress;
  }

  #failure(what: string, code: number): FlannelError {
    if (code === S.EBADFD) return new FlannelError('TUN_GONE', `TUN device ${this.name} was deleted`);
    return S.errnoError(`TUN ${what} on ${this.name}`, code);
  }
}

/**
 * IPv6 off on the new device, before anyone sets it up: the device carries IPv4 only, yet the kernel would
 * give it a link-local address and send router solicitations and MLD reports into it, which the forwarder
 * could only read and drop. Set here because the device is born here (as the netlink adapter sets accept_ra on
 * the devices it creates); the reconciler, which takes the device over from here, manages IPv4 only. Best
 * effort: on a host without IPv6 there is nothing to turn off.
 */
function disableIpv6(name: string): void {
  try {
    writeFileSync(`/proc/sys/net/ipv6/conf/${name}/disable_ipv6`, '1');
  } catch {
    // No IPv6 on this host (or no /proc/sys/net of our namespace): nothing sends into the device then either.
  }
}

function setIovec(words: Uint32Array, index: number, address: number, length: number): void {
  S.writeWord64(words, index * 4, address);
  words[index * 4 + 2] = length;
  words[index * 4 + 3] = 0;
}
