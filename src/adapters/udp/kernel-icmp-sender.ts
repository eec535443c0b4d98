/**
 * The udp data path's IcmpSender: a raw IPv4 socket of protocol IPPROTO_RAW, which sends packets with their IP
 * header as given (the kernel fills in the checksum, and the identification when it is 0) and never receives,
 * so nothing queues up on it. The packet leaves through the host's output path (local source addresses are
 * normal there), which is what lets the net-unreachable reply reach a pod — see udp-forwarder.ts. Needs
 * CAP_NET_RAW; `open` returns undefined without it, and the forwarder falls back to upstream's TUN write.
 */
import type { IcmpSender } from '../../backend/udp/packet-ports.js';
import * as S from './datapath-syscalls.js';

export class KernelIcmpSender implements IcmpSender {
  readonly #destination = S.socketAddress(0, 0);
  #address: number | undefined;
  #buffer: Buffer | undefined;

  private constructor(private readonly fd: number) {}

  /** A sender, or undefined when this process may not open raw sockets. */
  static open(): KernelIcmpSender | undefined {
    const fd = S.sys.socket(S.AF_INET, S.SOCK_RAW | S.SOCK_NONBLOCK | S.SOCK_CLOEXEC, S.IPPROTO_RAW) as number;
    return fd < 0 ? undefined : new KernelIcmpSender(fd);
  }

  send(packet: Buffer, length: number, destination: number): boolean {
    // The forwarder hands over the same reply buffer every time: look its address up once.
    if (packet !== this.#buffer) {
      this.#buffer = packet;
      this.#address = S.addressOf(packet);
    }
    this.#destination.writeUInt32BE(destination >>> 0, 4);
    return (S.sys.sendto(this.fd, this.#address as number, length, S.MSG_DONTWAIT, this.#destination, S.SOCKADDR_IN_BYTES) as number) === length;
  }

  close(): void {
    S.sys.close(this.fd);
  }
}
