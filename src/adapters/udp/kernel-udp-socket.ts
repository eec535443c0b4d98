/**
 * The data path's UDP socket: IPv4, bound to the interface address and Port (upstream binds the same), large
 * forced buffers, whole batches per syscall (recvmmsg, sendmmsg). Where the kernel has them:
 * - UDP_SEGMENT (GSO, Linux ≥ 4.18): a run of equal-sized datagrams to one peer goes down as one message the
 *   kernel (or the NIC) cuts into datagrams of exactly that size — on the wire still one inner packet each;
 * - UDP_GRO (Linux ≥ 5.0; used from 5.12, before which it had bugs): the kernel may hand several same-sized
 *   datagrams of one sender up as one buffer, which is split back here.
 * Receives never block (MSG_DONTWAIT); sends block at most 200 ms when the socket buffer is full (SO_SNDTIMEO),
 * which slows the TUN reader instead of dropping what TCP already sent, yet never hangs a stop.
 */
import { release } from 'node:os';
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
  /** The most packets one send may carry (the forwarder's batch capacity). */
  readonly batchPackets: number;
  /** Receive buffer per datagram without GRO: above the largest packet (the TUN MTU). */
  readonly packetBytes: number;
  /** Use UDP_SEGMENT and UDP_GRO when the kernel has them. */
  readonly offload: boolean;
  readonly counters: DatapathCounters;
}

const SEND_TIMEOUT_MS = 200;
/** A GRO buffer holds at most 64 KiB; so does a GSO send (65,507 bytes of UDP payload at most). */
const GRO_REGION_BYTES = 65536;
const GSO_MAX_BYTES = 65507;
const GSO_MAX_SEGMENTS = 64;
/** Receive messages per recvmmsg: GRO regions are large, plain ones small. */
const GRO_MESSAGES = 16;
const PLAIN_MESSAGES = 64;
const CONTROL_BYTES = 32;

/** One set of mmsghdr/sockaddr/control arrays and an iovec array, for receiving or for sending. */
class MessageArrays {
  readonly messageWords: Uint32Array;
  readonly iovecWords: Uint32Array;
  readonly names: Buffer;
  readonly controls: Buffer;
  readonly messagesAddress: number;
  readonly iovecsAddress: number;
  readonly #namesAddress: number;
  readonly #controlsAddress: number;
  // Kept referenced: the kernel reads and writes them through the addresses above.
  readonly #messages: Buffer;
  readonly #iovecs: Buffer;

  constructor(readonly messages: number, iovecs: number) {
    // At least 8 KiB each: V8 keeps such buffers off its heap, so the addresses below stay valid.
    this.#messages = Buffer.alloc(Math.max(messages * S.MMSGHDR_BYTES, 8192));
    this.#iovecs = Buffer.alloc(Math.max(iovecs * S.IOVEC_BYTES, 8192));
    this.names = Buffer.alloc(Math.max(messages * S.SOCKADDR_IN_BYTES, 8192));
    this.controls = Buffer.alloc(Math.max(messages * CONTROL_BYTES, 8192));
    this.messageWords = new Uint32Array(this.#messages.buffer, this.#messages.byteOffset, this.#messages.length / 4);
    this.iovecWords = new Uint32Array(this.#iovecs.buffer, this.#iovecs.byteOffset, this.#iovecs.length / 4);
    this.messagesAddress = S.addressOf(this.#messages);
    this.iovecsAddress = S.addressOf(this.#iovecs);
    this.#namesAddress = S.addressOf(this.names);
    this.#controlsAddress = S.addressOf(this.controls);
    for (let index = 0; index < messages; index++) {
      const words = index * (S.MMSGHDR_BYTES / 4);
      S.writeWord64(this.messageWords, words, this.#namesAddress + index * S.SOCKADDR_IN_BYTES); // msg_name
      this.messageWords[words + 2] = S.SOCKADDR_IN_BYTES; // msg_namelen
    }
  }

  /** Message `index` gathers `count` iovecs from iovec `first` on; `control` bytes of its control area (0: none). */
  setMessage(index: number, first: number, count: number, control: number): void {
    const words = index * (S.MMSGHDR_BYTES / 4);
    this.messageWords[words + 2] = S.SOCKADDR_IN_BYTES;
    S.writeWord64(this.messageWords, words + 4, this.iovecsAddress + first * S.IOVEC_BYTES); // msg_iov
    S.writeWord64(this.messageWords, words + 6, count); // msg_iovlen
    S.writeWord64(this.messageWords, words + 8, control > 0 ? this.#controlsAddress + index * CONTROL_BYTES : 0); // msg_control
    S.writeWord64(this.messageWords, words + 10, control); // msg_controllen
  }

  setIovec(index: number, address: number, length: number): void {
    const words = index * (S.IOVEC_BYTES / 4);
    S.writeWord64(this.iovecWords, words, address);
    this.iovecWords[words + 2] = length;
    this.iovecWords[words + 3] = 0;
  }
}

export class KernelUdpSocket implements UdpPort {
  readonly fd: number;
  /** Whether sends use UDP_SEGMENT and receives UDP_GRO (probed; GSO is dropped if the device refuses it). */
  gso: boolean;
  readonly gro: boolean;
  readonly #counters: DatapathCounters;
  readonly #receive: MessageArrays;
  readonly #send: MessageArrays;
  readonly #regionBytes: number;
  /** Per send message, the index of its first packet in the send list (and one past the last message). */
  readonly #messageStarts: Int32Array;
  readonly #addresses = new Map<Buffer, number>();
  /** The buffer sent from last time and its address: the forwarder sends from the same batch every time. */
  #lastBuffer: Buffer | undefined;
  #lastAddress = 0;
  /** The batch whose buffer the receive iovecs point into (set on first use). */
  #receiveBatch: PacketBatch | undefined;
  /** Receive messages to reset before the next call. */
  #dirtyMessages = 0;

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
      this.gso = options.offload && setOption(this.fd, S.SOL_UDP, S.UDP_SEGMENT, 0);
      this.gro = options.offload && kernelAtLeast(5, 12) && setOption(this.fd, S.SOL_UDP, S.UDP_GRO, 1);
    } catch (error) {
      S.sys.close(this.fd);
      throw error;
    }
    this.#regionBytes = this.gro ? GRO_REGION_BYTES : Math.ceil(options.packetBytes / 16) * 16;
    const receiveMessages = this.gro ? GRO_MESSAGES : PLAIN_MESSAGES;
    this.#receive = new MessageArrays(receiveMessages, receiveMessages);
    this.#send = new MessageArrays(options.batchPackets, options.batchPackets);
    this.#messageStarts = new Int32Array(options.batchPackets + 1);
  }

  /** The port the socket is bound to (the kernel's pick when bound to port 0). */
  get localPort(): number {
    const address = Buffer.alloc(8192);
    const length = Buffer.alloc(8192);
    length.writeUInt32LE(S.SOCKADDR_IN_BYTES);
    S.check(S.sys.getsockname(this.fd, S.addressOf(address), S.addressOf(length)) as number, 'getsockname');
    return address.readUInt16BE(2);
  }

  /** Bytes a batch's buffer needs for `receiveBatch`. */
  get receiveBufferBytes(): number {
    return this.#receive.messages * this.#regionBytes;
  }

  receiveBatch(batch: PacketBatch, max: number): number {
    batch.clear();
    const arrays = this.#receive;
    if (this.#receiveBatch !== batch) this.#pointReceiveAt(batch);
    // The kernel rewrote the name and control lengths of the messages it filled last time: restore them.
    for (let index = 0; index < this.#dirtyMessages; index++) arrays.setMessage(index, index, 1, this.gro ? CONTROL_BYTES : 0);
    this.#dirtyMessages = 0;
    const messages = Math.min(arrays.messages, max);
    let received: number;
    for (;;) {
      this.#counters.add(Counter.syscallRecvmmsg);
      received = S.sys.recvmmsg(this.fd, arrays.messagesAddress, messages, S.MSG_DONTWAIT, 0) as number;
      if (received >= 0) break;
      const code = S.errno();
      if (code === S.EAGAIN) {
        batch.drained = true;
        return 0;
      }
      if (code !== S.EINTR) throw S.errnoError('recvmmsg');
    }
    // Fewer datagrams than asked for: the receive queue is empty for now.
    batch.drained = received < messages;
    const words = arrays.messageWords;
    const names = arrays.names;
    const limit = Math.min(max, batch.capacity);
    this.#dirtyMessages = Math.max(this.#dirtyMessages, received);
    for (let message = 0; message < received; message++) {
      const at = message * (S.MMSGHDR_BYTES / 4);
      const length = words[at + 14] as number; // msg_len
      const name = message * S.SOCKADDR_IN_BYTES;
      const address = names.readUInt32BE(name + 4);
      const port = ((names[name + 2] as number) << 8) | (names[name + 3] as number);
      const region = message * this.#regionBytes;
      let segment = length;
      if (this.gro && (words[at + 10] as number) >= S.CMSG_HEADER_BYTES + 4) segment = this.#groSegment(message) || length;
      if (((words[at + 12] as number) & S.MSG_TRUNC) !== 0 || length === 0) {
        if (batch.count < limit) this.#push(batch, region, -1, address, port);
        continue;
      }
      if (segment < length) this.#counters.add(Counter.udpGroReceives);
      let offset = 0;
      for (; offset < length && batch.count < limit; offset += segment) {
        this.#push(batch, region + offset, Math.min(segment, length - offset), address, port);
      }
      // A batch too small for every datagram of a GRO buffer: the rest is lost, and counted.
      if (offset < length) this.#counters.add(Counter.dropTruncated, Math.ceil((length - offset) / segment));
    }
    return batch.count;
  }

  sendBatch(batch: PacketBatch, packets: Int32Array, count: number): number {
    const arrays = this.#send;
    const base = this.#addressOf(batch.buffer);
    const names = arrays.names;
    // Group the packets into messages: a GSO run (same peer, equal lengths but a shorter last) or a single.
    let messages = 0;
    const firstPacket = this.#messageStarts;
    for (let start = 0; start < count;) {
      const first = packets[start] as number;
      const size = batch.lengths[first] as number;
      let run = 1;
      if (this.gso) {
        let total = size;
        while (start + run < count && run < GSO_MAX_SEGMENTS) {
          const next = packets[start + run] as number;
          const length = batch.lengths[next] as number;
          if (batch.addresses[next] !== batch.addresses[first] || batch.ports[next] !== batch.ports[first] || length > size || total + length > GSO_MAX_BYTES) break;
          total += length;
          run++;
          if (length < size) break;
        }
      }
      for (let index = 0; index < run; index++) {
        const packet = packets[start + index] as number;
        arrays.setIovec(start + index, base + (batch.offsets[packet] as number), batch.lengths[packet] as number);
      }
      const name = messages * S.SOCKADDR_IN_BYTES;
      const port = batch.ports[first] as number;
      names[name] = S.AF_INET;
      names[name + 1] = 0;
      names.writeUInt16BE(port, name + 2);
      names.writeUInt32BE(batch.addresses[first] as number, name + 4);
      if (run > 1) {
        const control = messages * CONTROL_BYTES;
        arrays.controls.fill(0, control, control + CONTROL_BYTES);
        arrays.controls.writeUInt32LE(S.CMSG_HEADER_BYTES + 2, control); // cmsg_len
        arrays.controls.writeInt32LE(S.SOL_UDP, control + 8);
        arrays.controls.writeInt32LE(S.UDP_SEGMENT, control + 12);
        arrays.controls.writeUInt16LE(size, control + 16);
      }
      arrays.setMessage(messages, start, run, run > 1 ? S.CMSG_HEADER_BYTES + 8 : 0);
      firstPacket[messages] = start;
      messages++;
      start += run;
    }
    firstPacket[messages] = count;

    let next = 0;
    let sent = 0;
    while (next < messages) {
      this.#counters.add(Counter.syscallSendmmsg);
      const result = S.sys.sendmmsg(this.fd, arrays.messagesAddress + next * S.MMSGHDR_BYTES, messages - next, 0) as number;
      if (result > 0) {
        for (let message = next; message < next + result; message++) {
          const packetsInMessage = (firstPacket[message + 1] as number) - (firstPacket[message] as number);
          sent += packetsInMessage;
          if (packetsInMessage > 1) this.#counters.add(Counter.udpGsoSends);
        }
        next += result;
        continue;
      }
      const code = result === 0 ? S.EAGAIN : S.errno();
      if (code === S.EINTR) continue;
      const from = firstPacket[next] as number;
      const to = code === S.EAGAIN ? count : (firstPacket[next + 1] as number);
      if (code === S.EIO && this.gso && to - from > 1) {
        // The egress device cannot do UDP GSO (it needs checksum offload): send the rest one by one.
        this.gso = false;
        return sent + this.sendBatch(batch, packets.subarray(from), count - from);
      }
      // EAGAIN: still full after the send timeout, drop the rest rather than stall the loop. Otherwise this
      // one message was refused (no route to the peer, EMSGSIZE, a firewall): drop it, send the rest.
      for (let index = from; index < to; index++) batch.lengths[packets[index] as number] = -1;
      if (code === S.EAGAIN) break;
      next++;
    }
    return sent;
  }

  close(): void {
    S.sys.close(this.fd);
  }

  #push(batch: PacketBatch, offset: number, length: number, address: number, port: number): void {
    const index = batch.count++;
    batch.offsets[index] = offset;
    batch.lengths[index] = length;
    batch.addresses[index] = address;
    batch.ports[index] = port;
  }

  /** The UDP_GRO segment size in message `message`'s control data, or 0. */
  #groSegment(message: number): number {
    const controls = this.#receive.controls;
    const at = message * CONTROL_BYTES;
    if (controls.readInt32LE(at + 8) !== S.SOL_UDP || controls.readInt32LE(at + 12) !== S.UDP_GRO) return 0;
    return controls.readInt32LE(at + 16);
  }

  #pointReceiveAt(batch: PacketBatch): void {
    if (batch.buffer.length < this.receiveBufferBytes) {
      throw new RangeError(`receive batch of ${batch.buffer.length} bytes, ${this.receiveBufferBytes} needed`);
    }
    const base = this.#addressOf(batch.buffer);
    for (let index = 0; index < this.#receive.messages; index++) this.#receive.setIovec(index, base + index * this.#regionBytes, this.#regionBytes);
    this.#receiveBatch = batch;
    this.#dirtyMessages = this.#receive.messages;
  }

  #addressOf(buffer: Buffer): number {
    if (buffer === this.#lastBuffer) return this.#lastAddress;
    let address = this.#addresses.get(buffer);
    if (address === undefined) {
      address = S.addressOf(buffer);
      this.#addresses.set(buffer, address);
    }
    this.#lastBuffer = buffer;
    this.#lastAddress = address;
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

/** setsockopt with an int; false when the kernel does not know the option. */
function setOption(fd: number, level: number, name: number, value: number): boolean {
  const buffer = Buffer.alloc(4);
  buffer.writeInt32LE(value);
  return (S.sys.setsockopt(fd, level, name, buffer, 4) as number) >= 0;
}

function kernelAtLeast(major: number, minor: number): boolean {
  const [kernelMajor = 0, kernelMinor = 0] = release().split(/[.-]/).map(Number);
  return kernelMajor > major || (kernelMajor === major && kernelMinor >= minor);
}
