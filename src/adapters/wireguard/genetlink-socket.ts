/**
 * A synchronous generic-netlink (NETLINK_GENERIC) request socket: family lookup through the controller,
 * acknowledged requests and dumps. Same pattern as the rtnetlink socket (koffi creates and binds it, requests go
 * through fs.readSync/writeSync, a receive timeout guards against a lost reply), but a different protocol, and
 * dumps must read the error code some families (WireGuard) put into NLMSG_DONE.
 */
import { readSync, writeSync } from 'node:fs';
import { FlannelError } from '../../support/errors.js';
import { type NetlinkMessage, decodeAck, decodeMessages, encodeMessage, kernelError } from '../netlink/codec.js';
import { AF_NETLINK, NLMSG_DONE, NLMSG_ERROR, NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST } from '../netlink/constants.js';
import { NETLINK_EXT_ACK, SOL_NETLINK, bindNetlink, closeFd, inNetworkNamespace, openRawSocket, setReceiveTimeout, setSocketOption } from '../netlink/libc.js';
import { GENL_ID_CTRL, type GenlFamily, NETLINK_GENERIC, decodeFamily, encodeGetFamily } from './genetlink-codec.js';

export class GenericNetlinkSocket {
  private seq = Math.floor(Math.random() * 0x7fffffff);
  private readonly receiveBuffer = Buffer.alloc(1 << 20);
  private closed = false;

  private constructor(private readonly fd: number) {}

  static open(options: { netnsPath?: string; receiveTimeoutMs?: number } = {}): GenericNetlinkSocket {
    const fd = inNetworkNamespace(options.netnsPath, () => openRawSocket(AF_NETLINK, NETLINK_GENERIC));
    try {
      const one = Buffer.alloc(4);
      one.writeUInt32LE(1);
      setSocketOption(fd, SOL_NETLINK, NETLINK_EXT_ACK, one);
      setReceiveTimeout(fd, options.receiveTimeoutMs ?? 5000);
      bindNetlink(fd, 0);
    } catch (error) {
      closeFd(fd);
      throw error;
    }
    return new GenericNetlinkSocket(fd);
  }

  /** The family's id and version; undefined when the kernel has no such family (ENOENT). */
  resolveFamily(name: string): GenlFamily | undefined {
    try {
      const replies = this.exchange(GENL_ID_CTRL, NLM_F_REQUEST, encodeGetFamily(name), `genetlink family ${name}`);
      const family = replies.map((message) => decodeFamily(message.payload)).find((found) => found !== undefined);
      return family;
    } catch (error) {
      if (error instanceof FlannelError && error.code === 'ENOENT') return undefined;
      throw error;
    }
  }

  /** An acknowledged request; throws the kernel's error (code = errno name). */
  request(type: number, payload: Buffer, what: string): void {
    this.exchange(type, NLM_F_REQUEST | NLM_F_ACK, payload, what);
  }

  /** A dump: every reply message's payload until NLMSG_DONE; a negative error in DONE is thrown. */
  dump(type: number, payload: Buffer, what: string): Buffer[] {
    return this.exchange(type, NLM_F_REQUEST | NLM_F_DUMP, payload, what).map((message) => message.payload);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeFd(this.fd);
  }

  /** Sends one message and collects its replies until an ACK/error (request) or NLMSG_DONE (dump). */
  private exchange(type: number, flags: number, payload: Buffer, what: string): NetlinkMessage[] {
    this.seq = (this.seq + 1) >>> 0;
    const seq = this.seq;
    writeSync(this.fd, encodeMessage(type, flags, seq, payload));
    const replies: NetlinkMessage[] = [];
    const isDump = (flags & NLM_F_DUMP) === NLM_F_DUMP;
    for (;;) {
      for (const message of this.read()) {
        if (message.seq !== seq) continue;
        if (message.type === NLMSG_ERROR) {
          const ack = decodeAck(message);
          if (ack.errno !== 0) throw kernelError(what, ack);
          return replies;
        }
        if (message.type === NLMSG_DONE) {
          const status = message.payload.length >= 4 ? message.payload.readInt32LE(0) : 0;
          if (status < 0) throw kernelError(what, { errno: -status, seq });
          return replies;
        }
        replies.push(message);
        if (!isDump && (flags & NLM_F_ACK) === 0) return replies;
      }
    }
  }

  private read(): NetlinkMessage[] {
    let length: number;
    try {
      length = readSync(this.fd, this.receiveBuffer, 0, this.receiveBuffer.length, null);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'EIO';
      if (code === 'EAGAIN') throw new FlannelError('ETIMEDOUT', 'generic netlink: no reply from the kernel', { retryable: true });
      throw new FlannelError(code, `generic netlink read: ${(error as Error).message}`, { retryable: code === 'ENOBUFS' });
    }
    return decodeMessages(Buffer.from(this.receiveBuffer.subarray(0, length)));
  }
}
