/**
 * A synchronous rtnetlink request socket: dumps, single requests and batches (up to 128 messages per write,
 * each padded to 4 bytes, every one acknowledged). Requests take tens of microseconds, so blocking the event
 * loop is cheaper than any async hand-off (reference: netlink-spike.md). A receive timeout guards against a
 * lost reply. Kernel errors become FlannelErrors whose code is the errno name, with the extended-ack text.
 */
import { read, readSync, writeSync } from 'node:fs';
import { FlannelError } from '../../support/errors.js';
import { type NetlinkMessage, decodeAck, decodeMessages, encodeMessage, kernelError } from './codec.js';
import * as C from './constants.js';
import {
  NETLINK_EXT_ACK, SOL_NETLINK, SOL_SOCKET, SO_RCVBUFFORCE, bindNetlink, closeFd, connectNetlink, inNetworkNamespace, netlinkPortId,
  openRawSocket, setReceiveTimeout, setSocketOption,
} from './libc.js';

const NETLINK_ROUTE = 0;
const BATCH_SIZE = 128;

export interface NetlinkRequest {
  readonly type: number;
  readonly flags: number;
  readonly body: Buffer;
}

export class NetlinkSocket {
  private seq = Math.floor(Math.random() * 0x7fffffff);
  private readonly receiveBuffer = Buffer.alloc(1 << 20);
  private closed = false;

  private constructor(
    readonly fd: number,
    /** The port id the kernel bound this socket to (the nlmsg_pid of notifications our requests cause). */
    readonly portId: number,
  ) {}

  /** Opens a socket, optionally inside another network namespace, optionally joined to multicast groups. */
  static open(options: { netnsPath?: string; groups?: number; receiveBufferBytes?: number; receiveTimeoutMs?: number } = {}): NetlinkSocket {
    const fd = inNetworkNamespace(options.netnsPath, () => openRawSocket(C.AF_NETLINK, NETLINK_ROUTE));
    try {
      const one = Buffer.alloc(4);
      one.writeUInt32LE(1);
      setSocketOption(fd, SOL_NETLINK, NETLINK_EXT_ACK, one);
      const size = Buffer.alloc(4);
      size.writeUInt32LE(options.receiveBufferBytes ?? 8 << 20);
      setSocketOption(fd, SOL_SOCKET, SO_RCVBUFFORCE, size);
      setReceiveTimeout(fd, options.receiveTimeoutMs ?? 5000);
      bindNetlink(fd, options.groups ?? 0);
      return new NetlinkSocket(fd, netlinkPortId(fd));
    } catch (error) {
      closeFd(fd);
      throw error;
    }
  }

  /** Sends a dump request and returns every message of the reply. */
  dump(type: number, body: Buffer): NetlinkMessage[] {
    const seq = this.nextSeq();
    this.write(encodeMessage(type, C.NLM_F_REQUEST | C.NLM_F_DUMP, seq, body));
    const replies: NetlinkMessage[] = [];
    for (;;) {
      for (const message of this.read()) {
        if (message.seq !== seq) continue;
        if (message.type === C.NLMSG_DONE) return replies;
        if (message.type === C.NLMSG_ERROR) {
          const ack = decodeAck(message);
          throw kernelError(`netlink dump ${type}`, ack);
        }
        replies.push(message);
      }
    }
  }

  /** One request that returns data (e.g. RTM_GETROUTE for `ip route get`). */
  query(type: number, body: Buffer): NetlinkMessage | FlannelError {
    const seq = this.nextSeq();
    this.write(encodeMessage(type, C.NLM_F_REQUEST, seq, body));
    for (;;) {
      for (const message of this.read()) {
        if (message.seq !== seq) continue;
        if (message.type === C.NLMSG_ERROR) return kernelError(`netlink request ${type}`, decodeAck(message));
        return message;
      }
    }
  }

  /** Sends every request with NLM_F_ACK; returns, per request, undefined or the kernel's error. */
  batch(requests: readonly NetlinkRequest[], describe: (index: number) => string): Array<FlannelError | undefined> {
    const results: Array<FlannelError | undefined> = new Array(requests.length).fill(undefined);
    for (let start = 0; start < requests.length; start += BATCH_SIZE) {
      const chunk = requests.slice(start, start + BATCH_SIZE);
      const firstSeq = this.nextSeq();
      this.seq += chunk.length - 1;
      const frames = chunk.map((request, offset) =>
        encodeMessage(request.type, request.flags | C.NLM_F_REQUEST | C.NLM_F_ACK, (firstSeq + offset) >>> 0, request.body),
      );
      this.write(Buffer.concat(frames));
      let pending = chunk.length;
      while (pending > 0) {
        for (const message of this.read()) {
          if (message.type !== C.NLMSG_ERROR) continue;
          const ack = decodeAck(message);
          const offset = (ack.seq - firstSeq) >>> 0;
          if (offset >= chunk.length) continue;
          pending--;
          if (ack.errno !== 0) results[start + offset] = kernelError(describe(start + offset), ack);
        }
      }
    }
    return results;
  }

  /** Blocking read of whatever the kernel has queued (one datagram; throws ETIMEDOUT after the receive timeout). */
  read(): NetlinkMessage[] {
    let length: number;
    try {
      length = readSync(this.fd, this.receiveBuffer, 0, this.receiveBuffer.length, null);
    } catch (error) {
      throw readError(error);
    }
    // Copy: the receive buffer is reused by the next read, and dumps span many reads.
    return decodeMessages(Buffer.from(this.receiveBuffer.subarray(0, length)));
  }

  /**
   * `read()` on libuv's thread pool: the event loop stays free while the read blocks (at most the receive
   * timeout). One at a time per socket (they share the receive buffer).
   */
  readAsync(): Promise<NetlinkMessage[]> {
    return new Promise((resolve, reject) => {
      read(this.fd, this.receiveBuffer, 0, this.receiveBuffer.length, null, (error, length) => {
        if (error) reject(readError(error));
        else resolve(decodeMessages(Buffer.from(this.receiveBuffer.subarray(0, length))));
      });
    });
  }

  /**
   * Sends one NLMSG_NOOP to another netlink socket of this namespace (by port id), e.g. to end a read that
   * blocks without a timeout. The socket stays pointed at that port: use a socket opened for this alone.
   */
  sendNoopTo(portId: number): void {
    connectNetlink(this.fd, portId);
    this.write(encodeMessage(C.NLMSG_NOOP, 0, this.nextSeq(), Buffer.alloc(0)));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeFd(this.fd);
  }

  private write(frame: Buffer): void {
    writeSync(this.fd, frame);
  }

  private nextSeq(): number {
    this.seq = (this.seq + 1) >>> 0;
    return this.seq;
  }
}

/** A failed read as a FlannelError: ETIMEDOUT for the receive timeout, ENOBUFS (retryable) for lost notifications. */
function readError(error: unknown): FlannelError {
  const code = (error as NodeJS.ErrnoException).code ?? 'EIO';
  if (code === 'EAGAIN') return new FlannelError('ETIMEDOUT', 'netlink: no reply from the kernel', { retryable: true });
  return new FlannelError(code, `netlink read: ${(error as Error).message}`, { retryable: code === 'ENOBUFS' });
}
