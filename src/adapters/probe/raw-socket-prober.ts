/**
 * OverlayProber on a raw ICMP socket (root): vxlan and udp probes are built in userspace (probe-packets.ts) and
 * sent as UDP datagrams from our public address to the peer's overlay port; routed probes are ICMP echoes the
 * kernel routes. Every answer comes back as an ICMP echo reply to one of our overlay addresses, which the
 * kernel hands to every raw ICMP socket: this one filters to echo replies (ICMP_FILTER) and matches identifier,
 * sequence and source. The socket is non-blocking and polled (1 ms, backing off to 8 ms) while a round waits,
 * so a round never blocks the event loop (flanneld's datapath health runs it in the daemon); an RTT is therefore
 * exact to the poll interval. One identifier per round, one sequence number per target.
 */
import { readSync } from 'node:fs';
import { createSocket, type Socket } from 'node:dgram';
import { randomInt } from 'node:crypto';
import koffi from 'koffi';
import { encodeIcmpEcho, encodeIpv4, encodeVxlanFrame, parseEchoReply } from '../../ops/probe/probe-packets.js';
import type { OverlayProber, ProbeOutcome, ProbeTarget } from '../../ops/probe/probe-target.js';
import { FlannelError, errorMessage } from '../../support/errors.js';

const libc = koffi.load('libc.so.6');
const socketCall = libc.func('int socket(int domain, int type, int protocol)');
const setsockoptCall = libc.func('int setsockopt(int fd, int level, int name, const uint8_t *value, uint32_t len)');
const sendtoCall = libc.func('intptr_t sendto(int fd, const uint8_t *buf, size_t len, int flags, const uint8_t *addr, uint32_t addrlen)');
const closeCall = libc.func('int close(int fd)');

const AF_INET = 2;
const SOCK_RAW = 3;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const IPPROTO_ICMP = 1;
const SOL_RAW = 255;
const ICMP_FILTER = 1;
const POLL_MS = 8;

export class RawSocketProber implements OverlayProber {
  private readonly buffer = Buffer.alloc(2048);
  private readonly udpSockets = new Map<string, Promise<Socket>>();

  private constructor(private readonly fd: number) {}

  /** Opens the raw ICMP socket; FlannelError('EPERM') when not root. */
  static open(): RawSocketProber {
    const fd = socketCall(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ICMP) as number;
    if (fd < 0) throw new FlannelError(koffi.errno() === 1 ? 'EPERM' : 'SOCKET', `cannot open a raw ICMP socket (errno ${koffi.errno()}): probes need root`);
    // Bit n set drops ICMP type n: keep echo replies (type 0) only.
    const filter = Buffer.alloc(4);
    filter.writeUInt32LE(~1 >>> 0);
    setsockoptCall(fd, SOL_RAW, ICMP_FILTER, filter, 4);
    return new RawSocketProber(fd);
  }

  async probe(targets: readonly ProbeTarget[], timeoutMs: number, signal?: AbortSignal): Promise<ProbeOutcome[]> {
    this.drain();
    const identifier = randomInt(1, 0xffff);
    const outcomes = new Map<number, ProbeOutcome>();
    const sentAt = new Map<number, number>();
    for (const [sequence, target] of targets.entries()) {
      try {
        await this.send(target, identifier, sequence);
        sentAt.set(sequence, performance.now());
      } catch (error) {
        outcomes.set(sequence, { peer: target.peer, result: 'error', error: errorMessage(error) });
      }
    }
    const deadline = performance.now() + timeoutMs;
    // Poll at 1 ms first (answers on a LAN come within a millisecond, and the RTT is measured at the poll),
    // backing off to POLL_MS: ~130 wake-ups over a 1 s round at most.
    let pollMs = 1;
    while (outcomes.size < targets.length && performance.now() < deadline && !signal?.aborted) {
      await new Promise((resolve) => setTimeout(resolve, pollMs));
      pollMs = Math.min(POLL_MS, pollMs * 2);
      for (let packet = this.receive(); packet; packet = this.receive()) {
        const reply = parseEchoReply(packet);
        if (!reply || reply.identifier !== identifier) continue;
        const target = targets[reply.sequence];
        const started = sentAt.get(reply.sequence);
        if (!target || started === undefined || outcomes.has(reply.sequence) || !reply.source.equals(target.innerDestination)) continue;
        outcomes.set(reply.sequence, { peer: target.peer, result: 'ok', rttMs: performance.now() - started });
      }
    }
    return targets.map((target, sequence) => outcomes.get(sequence) ?? { peer: target.peer, result: 'timeout' });
  }

  async close(): Promise<void> {
    closeCall(this.fd);
    for (const socket of this.udpSockets.values()) (await socket.catch(() => undefined))?.close();
  }

  private async send(target: ProbeTarget, identifier: number, sequence: number): Promise<void> {
    const echo = encodeIcmpEcho(identifier, sequence);
    if (target.kind === 'routed') {
      const address = Buffer.alloc(16);
      address.writeUInt16LE(AF_INET, 0);
      target.innerDestination.toBytes().copy(address, 4);
      const sent = Number(sendtoCall(this.fd, echo, echo.length, 0, address, 16));
      if (sent < 0) throw new FlannelError('SEND', `ICMP echo to ${target.innerDestination}: errno ${koffi.errno()}`);
      return;
    }
    if (!target.innerSource || target.port === undefined) throw new FlannelError('BAD_PROBE', `${target.peer}: probe without inner source or port`);
    const inner = encodeIpv4(target.innerSource, target.innerDestination, 1, echo);
    let payload = inner;
    if (target.kind === 'vxlan') {
      if (!target.destinationMac || !target.sourceMac) throw new FlannelError('BAD_PROBE', `${target.peer}: VXLAN probe without MACs`);
      payload = encodeVxlanFrame(target.vni ?? 1, target.destinationMac, target.sourceMac, inner);
    }
    const socket = await this.udpSocket(target.bindAddress?.toString());
    await new Promise<void>((resolve, reject) => socket.send(payload, target.port, target.underlayDestination.toString(), (error) => (error ? reject(error) : resolve())));
  }

  /** A UDP socket bound to our public address (the peer may admit only peers' addresses), else to any. */
  private udpSocket(address: string | undefined): Promise<Socket> {
    const key = address ?? '';
    let socket = this.udpSockets.get(key);
    if (!socket) {
      socket = new Promise((resolve) => {
        const bound = createSocket('udp4');
        bound.once('error', () => {
          bound.close();
          const any = createSocket('udp4');
          any.bind(0, () => resolve(any));
        });
        bound.bind({ port: 0, ...(address ? { address } : {}) }, () => resolve(bound));
      });
      this.udpSockets.set(key, socket);
    }
    return socket;
  }

  private receive(): Buffer | undefined {
    try {
      const length = readSync(this.fd, this.buffer, 0, this.buffer.length, null);
      return length > 0 ? this.buffer.subarray(0, length) : undefined;
    } catch {
      // EAGAIN: nothing waiting.
      return undefined;
    }
  }

  /** Drops replies left from an earlier round. */
  private drain(): void {
    while (this.receive());
  }
}
