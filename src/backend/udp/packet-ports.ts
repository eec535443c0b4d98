/**
 * The ports the udp forwarder moves packets through, and the preallocated batch it moves them in. The real
 * adapters (src/adapters/udp/: a TUN device and a UDP socket with recvmmsg/sendmmsg and, where the kernel has
 * them, TSO/GSO/GRO offloads) and the in-memory doubles (ChannelTun, MemoryUdpNetwork) implement the same
 * interfaces; the contract test keeps them alike. Whatever a port does inside (one superpacket per read, many
 * datagrams per receive), it hands the forwarder single whole IPv4 packets and takes single packets back.
 */

/**
 * Up to `capacity` packets in one buffer that never moves (the kernel adapters hand packet addresses to
 * recvmmsg/sendmmsg/writev), each with its offset, length, and peer address and port. The port that fills a
 * batch chooses the layout; `append` hands out 16-byte aligned room (aligned packets checksum faster).
 * Nothing here is allocated per packet.
 */
export class PacketBatch {
  readonly buffer: Buffer;
  readonly offsets: Int32Array;
  /** Bytes of each packet; −1 marks one that did not fit (receive) or failed (send). */
  readonly lengths: Int32Array;
  /** Peer IPv4 address per packet (network order): the source on receive, the destination on send. */
  readonly addresses: Uint32Array;
  readonly ports: Uint16Array;
  /** Packets filled. */
  count = 0;
  /** First free byte for `append`. */
  end = 0;
  /**
   * Set by the port that filled the batch when it found nothing more waiting: the caller may sleep until the
   * descriptor is readable instead of asking again (saves a syscall that would only say EAGAIN).
   */
  drained = false;

  constructor(
    readonly capacity: number,
    bufferBytes: number,
  ) {
    // Buffers above Node's pool threshold get memory of their own, so the address stays the buffer's.
    this.buffer = Buffer.alloc(Math.max(bufferBytes, 8192));
    this.offsets = new Int32Array(capacity);
    this.lengths = new Int32Array(capacity);
    this.addresses = new Uint32Array(capacity);
    this.ports = new Uint16Array(capacity);
  }

  clear(): void {
    this.count = 0;
    this.end = 0;
    this.drained = false;
  }

  /** Bytes still free for `append`. */
  get free(): number {
    return this.buffer.length - this.end;
  }

  /**
   * Adds a packet of `length` bytes at the next aligned free offset and returns its index, or −1 when the
   * batch is full (packets or bytes). The caller writes the bytes at `offsets[index]`.
   */
  append(length: number): number {
    if (this.count >= this.capacity || this.end + length > this.buffer.length) return -1;
    const index = this.count++;
    this.offsets[index] = this.end;
    this.lengths[index] = length;
    this.end = (this.end + length + 15) & ~15;
    return index;
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
   * Clears `batch` and reads packets into it until `max` are in or none is waiting; returns how many (0: never
   * blocks). A superpacket the kernel hands over (TSO) arrives as its segments, all in one call, so they may
   * take the count past `max` (never past the batch's capacity). A packet too large for the read buffer gets
   * length −1 (the kernel cuts silently, so a read that fills its buffer counts as cut). Sets `drained`
   * when nothing more was waiting. Throws FlannelError TUN_GONE once the device has been deleted.
   */
  readBatch(batch: PacketBatch, max: number): number;
  /**
   * Writes the packets of `batch` listed in `packets[0, count)` into the kernel, in order (a port may join
   * consecutive TCP segments of one flow into one superpacket write). Returns how many the kernel took.
   * Throws TUN_GONE like readBatch.
   */
  writeBatch(batch: PacketBatch, packets: Int32Array, count: number): number;
  /** Writes one packet; false when the kernel refused it. Throws TUN_GONE like readBatch. */
  write(buffer: Buffer, offset: number, length: number): boolean;
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
   * Clears `batch` and receives datagrams into it, one inner packet per entry (a coalesced GRO datagram is
   * split back into its datagrams), with source address and port; at most `max` entries. Returns how many;
   * 0 when none is waiting (never blocks). A datagram larger than the port's receive buffer gets length −1.
   * Sets `drained` when nothing more was waiting.
   */
  receiveBatch(batch: PacketBatch, max: number): number;
  /**
   * Sends the packets of `batch` listed in `packets[0, count)`, each as one datagram to its address and port,
   * in order (a port may hand a run of equal-sized datagrams to one peer to the kernel as one GSO send; each
   * still leaves as its own datagram). Returns how many were sent; each one that failed gets length −1.
   */
  sendBatch(batch: PacketBatch, packets: Int32Array, count: number): number;
  close(): void;
}

/**
 * Where the forwarder's ICMP errors go: out through the host's own output path (a raw socket in production),
 * so that they reach the sender. The packet is complete (IPv4 header included, as built by net-unreachable.ts).
 */
export interface IcmpSender {
  /** Sends `packet[0, length)` to `destination` (network order); false when the kernel refused it. Never blocks. */
  send(packet: Buffer, length: number, destination: number): boolean;
  close(): void;
}
