/**
 * The ports the udp forwarder moves packets through, and the preallocated batch it moves them in. The real
 * adapters (src/adapters/udp/: a TUN device and a UDP socket with recvmmsg/sendmmsg) and the in-memory doubles
 * (ChannelTun, MemoryUdpNetwork) implement the same interfaces; the contract test keeps them alike.
 */

/**
 * `capacity` packet slots of `slotBytes` each in one buffer that never moves (the kernel adapter hands slot
 * addresses to recvmmsg/sendmmsg), plus per-slot length, peer address and port. Nothing here is allocated
 * per packet.
 */
export class PacketBatch {
  readonly buffer: Buffer;
  /** Bytes in each slot; a negative value marks a datagram that did not fit (receive) or failed (send). */
  readonly lengths: Int32Array;
  /** Peer IPv4 address per slot (network order): the source on receive, the destination on send. */
  readonly addresses: Uint32Array;
  readonly ports: Uint16Array;

  constructor(
    readonly capacity: number,
    readonly slotBytes: number,
  ) {
    // Buffers above Node's pool threshold get memory of their own, so the address stays the buffer's.
    this.buffer = Buffer.alloc(Math.max(capacity * slotBytes, 8192));
    this.lengths = new Int32Array(capacity);
    this.addresses = new Uint32Array(capacity);
    this.ports = new Uint16Array(capacity);
  }

  offsetOf(slot: number): number {
    return slot * this.slotBytes;
  }
}

/** The TUN device as the forwarder uses it: whole IPv4 packets, no packet-information header. */
export interface TunDevice {
  /** The kernel's name for it (a `flannel%d` template comes back resolved, e.g. flannel0). */
  readonly name: string;
  readonly index: number;
  /** A descriptor to poll, or -1 for a double. */
  readonly pollDescriptor: number;
  /**
   * Reads up to `max` packets into slots 0… of `batch` and returns how many; 0 when none is waiting (never
   * blocks). A packet that fills a whole slot or more gets length −1 (the kernel cuts silently, so a full
   * slot may hold a cut packet; someone raised the MTU past our slots). Throws
   * FlannelError TUN_GONE once the device has been deleted.
   */
  readBatch(batch: PacketBatch, max: number): number;
  /** Writes one packet into the kernel; false when the kernel refused it. Throws TUN_GONE like readBatch. */
  write(buffer: Uint8Array, offset: number, length: number): boolean;
  /** Releases the descriptor (the kernel then deletes a non-persistent device). Idempotent. */
  close(): void;
}

/** Creates TUN devices: `name` is an exact name or a template with %d. Throws FlannelError on failure. */
export interface TunOpener {
  open(name: string): TunDevice;
}

/** A UDP socket bound to the data path's address and port. */
export interface UdpPort {
  /**
   * Receives up to `max` datagrams into slots 0… of `batch` (length, source address, source port) and returns
   * how many; 0 when none is waiting (never blocks). A datagram larger than a slot gets length −1.
   */
  receiveBatch(batch: PacketBatch, max: number): number;
  /**
   * Sends the packets in the first `count` slots listed in `slots`, each to its slot's address and port, in
   * order. Returns how many were sent; each one that failed has its length set to −1.
   */
  sendBatch(batch: PacketBatch, slots: Int32Array, count: number): number;
  close(): void;
}
