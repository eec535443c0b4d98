/**
 * An in-memory UDP network for tests: sockets bound to (IPv4 address, port) exchange datagrams, and a test can
 * `deliver` a datagram from any source (a spoofer). Kept to the kernel's rules the forwarder relies on: one
 * datagram per receive, source address and port reported, a datagram larger than the receive buffer reported
 * as truncated (length −1, as MSG_TRUNC), sends to nobody vanish (UDP), a bound address is unique (EADDRINUSE),
 * receive queues are bounded (the kernel drops at the receive buffer).
 */
import { FlannelError } from '../../support/errors.js';
import type { PacketBatch, UdpPort } from './packet-ports.js';

/** An address and port, the address a network-order number as in ipv4-packet.ts. */
export interface UdpEndpoint {
  readonly address: number;
  readonly port: number;
}

interface Datagram {
  readonly from: UdpEndpoint;
  readonly payload: Uint8Array;
}

const keyOf = (endpoint: UdpEndpoint) => `${endpoint.address}:${endpoint.port}`;

export class MemoryUdpNetwork {
  readonly #sockets = new Map<string, MemoryUdpSocket>();

  /** `receiveBytes`: the receive buffer per datagram (longer ones are reported cut, length −1). */
  bind(endpoint: UdpEndpoint, options: { queueLimit?: number; receiveBytes?: number } = {}): MemoryUdpSocket {
    const key = keyOf(endpoint);
    if (this.#sockets.has(key)) throw new FlannelError('EADDRINUSE', `bind ${key}: Address already in use`);
    const socket = new MemoryUdpSocket(this, endpoint, options.queueLimit ?? 4096, options.receiveBytes ?? 65535, () => this.#sockets.delete(key));
    this.#sockets.set(key, socket);
    return socket;
  }

  /** Delivers one datagram (copied) to whoever is bound at `to`; false when nobody is or its queue is full. */
  deliver(from: UdpEndpoint, to: UdpEndpoint, payload: Uint8Array): boolean {
    const socket = this.#sockets.get(keyOf(to));
    return socket ? socket.enqueue({ from, payload: Uint8Array.from(payload) }) : false;
  }
}

export class MemoryUdpSocket implements UdpPort {
  readonly #queue: Datagram[] = [];
  /** Datagrams dropped at a full receive queue. */
  queueDrops = 0;
  #closed = false;

  constructor(
    private readonly network: MemoryUdpNetwork,
    readonly endpoint: UdpEndpoint,
    private readonly queueLimit: number,
    private readonly receiveBytes: number,
    private readonly release: () => void,
  ) {}

  get queued(): number {
    return this.#queue.length;
  }

  enqueue(datagram: Datagram): boolean {
    if (this.#closed) return false;
    if (this.#queue.length >= this.queueLimit) {
      this.queueDrops++;
      return false;
    }
    this.#queue.push(datagram);
    return true;
  }

  receiveBatch(batch: PacketBatch, max: number): number {
    batch.clear();
    while (batch.count < max && this.#queue.length > 0) {
      const { from, payload } = this.#queue[0] as Datagram;
      const cut = payload.length > this.receiveBytes;
      const index = batch.append(cut ? 0 : payload.length);
      if (index < 0) break;
      this.#queue.shift();
      if (cut) batch.lengths[index] = -1;
      else batch.buffer.set(payload, batch.offsets[index] as number);
      batch.addresses[index] = from.address;
      batch.ports[index] = from.port;
    }
    batch.drained = this.#queue.length === 0;
    return batch.count;
  }

  sendBatch(batch: PacketBatch, packets: Int32Array, count: number): number {
    for (let index = 0; index < count; index++) {
      const packet = packets[index] as number;
      const offset = batch.offsets[packet] as number;
      const to = { address: batch.addresses[packet] as number, port: batch.ports[packet] as number };
      this.network.deliver(this.endpoint, to, batch.buffer.subarray(offset, offset + (batch.lengths[packet] as number)));
    }
    return count;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue.length = 0;
    this.release();
  }
}
