/**
 * The data path's UDP socket: IPv4, bound to the interface address and Port (upstream binds the same), large
 * forced buffers, whole batches per syscall (recvmmsg, sendmmsg). The message arrays point into the
 * forwarder's PacketBatch slots once, at construction; a send only rewrites each entry's iovec and
 * destination. Receives never block (MSG_DONTWAIT); sends block at most 200 ms when the socket buffer is full
 * (SO_SNDTIMEO), which slows the TUN reader instead of dropping what TCP already sent, yet never hangs a stop.
 */
import { Counter, type DatapathCounters } from '../../backend/udp/datapath-counters.js';
import type { PacketBatch, UdpPort } from '../../backend/udp/packet-ports.js';
import { formatAddress } from '../../backend/udp/peer-routes.js';
import * as S from './datapath-syscalls.js';

export interface KernelUdpSocketOptions {
  /** Network-order IPv4 address to bind (the interface address). */
  readonly address: number;
  readonly port: number;
  /** SO_RCVBUFFORCE / SO_SNDBUFFORCE (falls back to the capped SO_RCVBUF / SO_SNDBUF without CAP_NET_ADMIN). */
  readonly bufferBytes: number;
  /** The most messages one call may move (the forwarder's batch size). */
  readonly batchSize: number;
  readonly counters: DatapathCounters;
}

const SEND_TIMEOUT_MS = 200;

/** One set of mmsghdr/iovec/sockaddr arrays, for receiving or for sending. */
class MessageArrays {
  readonly messages: Buffer;
  readonly messageWords: Uint32Array;
  readonly iovecWords: Uint32Array;
  readonly names: Buffer;
  readonly messagesAddress: number;
  readonly iovecsAddress: number;
  readonly namesAddress: number;
  readonly #iovecs: Buffer;

  constructor(count: number) {
    // At least 8 KiB each: V8 keeps such buffers off its heap, so the addresses below stay valid.
    this.messages = Buffer.alloc(Math.max(count * S.MMSGHDR_BYTES, 8192));
    this.#iovecs = Buffer.alloc(Math.max(count * S.IOVEC_BYTES, 8192));
    this.names = Buffer.alloc(Math.max(count * S.SOCKADDR_IN_BYTES, 8192));
    this.messageWords = new Uint32Array(this.messages.buffer, this.messages.byteOffset, this.messages.length / 4);
    this.iovecWords = new Uint32Array(this.#iovecs.buffer, this.#iovecs.byteOffset, this.#iovecs.length / 4);
    this.messagesAddress = S.addressOf(this.messages);
    this.iovecsAddress = S.addressOf(this.#iovecs);
    this.namesAddress = S.addressOf(this.names);
    for (let index = 0; index < count; index++) {
      const words = index * (S.MMSGHDR_BYTES / 4);
      writePointer(this.messageWords, words, this.namesAddress + index * S.SOCKADDR_IN_BYTES); // msg_name
      this.messageWords[words + 2] = S.SOCKADDR_IN_BYTES; // msg_namelen
      writePointer(this.messageWords, words + 4, this.iovecsAddress + index * S.IOVEC_BYTES); // msg_iov
      this.messageWords[words + 6] = 1; // msg_iovlen
    }
  }

  /** Points message `index`'s single iovec at `length` bytes from `address`. */
  setIovec(index: number, address: number, length: number): void {
    const words = index * (S.IOVEC_BYTES / 4);
    writePointer(this.iovecWords, words, address);
    this.iovecWords[words + 2] = length;
    this.iovecWords[words + 3] = 0;
  }
}

function writePointer(words: Uint32Array, at: number, address: number): void {
  words[at] = address % 0x1_0000_0000;
  words[at + 1] = Math.floor(address / 0x1_0000_0000);
}

export class KernelUdpSocket implements UdpPort {
  readonly fd: number;
  readonly #counters: DatapathCounters;
  readonly #receive: MessageArrays;
  readonly #send: MessageArrays;
  readonly #batchAddresses = new Map<Buffer, number>();
  /** The batch whose slots the receive iovecs point at (set on first use). */
  #receiveBatch: PacketBatch | undefined;

  constructor(options: KernelUdpSocketOptions) {
    S.assertSupportedPlatform();
    this.#counters = options.counters;
    this.fd = S.check(S.sys.socket(S.AF_INET, S.SOCK_DGRAM | S.SOCK_CLOEXEC, 0) as number, 'socket');
    try {
      setBufferSize(this.fd, S.SO_RCVBUFFORCE, S.SO_RCVBUF, options.bufferBytes);
      setBufferSize(this.fd, S.SO_SNDBUFFORCE, S.SO_SNDBUF, options.bufferBytes);
      const timeout = Buffer.alloc(16);
      timeout.writeBigInt64LE(BigInt(SEND_TIMEOUT_MS * 1000), 8);
      S.check(S.sys.setsockopt(this.fd, S.SOL_SOCKET, S.SO_SNDTIMEO, timeout, 16) as number, 'setsockopt SO_SNDTIMEO');
      const where = S.socketAddress(options.address, options.port);
      S.check(S.sys.bind(this.fd, where, where.length) as number, `bind ${formatAddress(options.address)}:${options.port}`);
    } catch (error) {
      S.sys.close(this.fd);
      throw error;
    }
    this.#receive = new MessageArrays(options.batchSize);
    this.#send = new MessageArrays(options.batchSize);
  }

  receiveBatch(batch: PacketBatch, max: number): number {
    const arrays = this.#receive;
    if (this.#receiveBatch !== batch) this.#pointReceiveAt(batch);
    const words = arrays.messageWords;
    let received: number;
    for (;;) {
      this.#counters.add(Counter.syscallRecvmmsg);
      received = S.sys.recvmmsg(this.fd, arrays.messagesAddress, Math.min(max, batch.capacity), S.MSG_DONTWAIT, 0) as number;
      if (received >= 0) break;
      const code = S.errno();
      if (code === S.EAGAIN) return 0;
      if (code === S.EINTR) continue;
      throw S.errnoError('recvmmsg');
    }
    const names = arrays.names;
    for (let index = 0; index < received; index++) {
      const message = index * (S.MMSGHDR_BYTES / 4);
      const flags = words[message + 12] as number; // msg_flags
      batch.lengths[index] = flags & S.MSG_TRUNC ? -1 : (words[message + 14] as number); // msg_len
      words[message + 2] = S.SOCKADDR_IN_BYTES; // the kernel wrote the name's length: restore it
      const name = index * S.SOCKADDR_IN_BYTES;
      batch.ports[index] = ((names[name + 2] as number) << 8) | (names[name + 3] as number);
      batch.addresses[index] = names.readUInt32BE(name + 4);
    }
    return received;
  }

  sendBatch(batch: PacketBatch, slots: Int32Array, count: number): number {
    const arrays = this.#send;
    const base = this.#addressOf(batch.buffer);
    const names = arrays.names;
    for (let index = 0; index < count; index++) {
      const slot = slots[index] as number;
      arrays.setIovec(index, base + slot * batch.slotBytes, batch.lengths[slot] as number);
      const name = index * S.SOCKADDR_IN_BYTES;
      const port = batch.ports[slot] as number;
      const address = batch.addresses[slot] as number;
      names[name] = S.AF_INET;
      names[name + 2] = port >>> 8;
      names[name + 3] = port & 0xff;
      names[name + 4] = address >>> 24;
      names[name + 5] = (address >>> 16) & 0xff;
      names[name + 6] = (address >>> 8) & 0xff;
      names[name + 7] = address & 0xff;
    }
    let next = 0;
    let sent = 0;
    while (next < count) {
      this.#counters.add(Counter.syscallSendmmsg);
      const result = S.sys.sendmmsg(this.fd, arrays.messagesAddress + next * S.MMSGHDR_BYTES, count - next, 0) as number;
      if (result > 0) {
        next += result;
        sent += result;
        continue;
      }
      const code = result === 0 ? S.EAGAIN : S.errno();
      if (code === S.EINTR) continue;
      if (code === S.EAGAIN) {
        // Still full after the send timeout: drop the rest of this batch rather than stall the loop.
        for (; next < count; next++) batch.lengths[slots[next] as number] = -1;
        break;
      }
      // This one message was refused (no route to the peer, EMSGSIZE, a firewall): drop it, send the rest.
      batch.lengths[slots[next] as number] = -1;
      next++;
    }
    return sent;
  }

  close(): void {
    S.sys.close(this.fd);
  }

  #pointReceiveAt(batch: PacketBatch): void {
    const base = this.#addressOf(batch.buffer);
    const count = Math.min(batch.capacity, this.#receive.messages.length / S.MMSGHDR_BYTES);
    for (let index = 0; index < count; index++) this.#receive.setIovec(index, base + index * batch.slotBytes, batch.slotBytes);
    this.#receiveBatch = batch;
  }

  #addressOf(buffer: Buffer): number {
    let address = this.#batchAddresses.get(buffer);
    if (address === undefined) {
      address = S.addressOf(buffer);
      this.#batchAddresses.set(buffer, address);
    }
    return address;
  }
}

function setBufferSize(fd: number, forced: number, capped: number, bytes: number): void {
  const value = Buffer.alloc(4);
  value.writeInt32LE(bytes);
  if ((S.sys.setsockopt(fd, S.SOL_SOCKET, forced, value, 4) as number) >= 0) return;
  // Without CAP_NET_ADMIN the forced variant fails (EPERM); the capped one is still better than the default.
  S.check(S.sys.setsockopt(fd, S.SOL_SOCKET, capped, value, 4) as number, 'setsockopt buffer size');
}
