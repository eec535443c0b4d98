/**
 * The sd_notify(3) protocol, as upstream flanneld speaks it through go-systemd: when systemd starts a
 * `Type=notify` service it sets NOTIFY_SOCKET to an AF_UNIX datagram socket, and the service sends newline-
 * separated assignments (`READY=1`, `STATUS=…`, `STOPPING=1`) there. Node's dgram has no AF_UNIX datagrams, so
 * the socket and sendto(2) go through koffi. A name starting with `@` is an abstract socket (leading NUL byte).
 *
 * Without NOTIFY_SOCKET there is no notifier and nothing is sent, as upstream. A failed send never stops the
 * daemon: it is reported to the caller, which logs it.
 */
import koffi from 'koffi';
import { FlannelError } from '../../support/errors.js';
import { check, closeFd } from '../netlink/libc.js';

const libc = koffi.load('libc.so.6');
const socketCall = libc.func('int socket(int domain, int type, int protocol)');
const sendtoCall = libc.func('intptr_t sendto(int fd, const uint8_t *buf, size_t len, int flags, const uint8_t *addr, uint32_t addrlen)');

const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const MSG_NOSIGNAL = 0x4000;
/** sizeof(sun_path) in struct sockaddr_un. */
const SUN_PATH_BYTES = 108;

/**
 * struct sockaddr_un for a NOTIFY_SOCKET value: an absolute path, or `@name` for the abstract namespace. Throws
 * FlannelError('BAD_NOTIFY_SOCKET') for anything else (systemd also knows `vsock:`, which flanneld does not use).
 */
export function notifySocketAddress(value: string): Buffer {
  const abstract = value.startsWith('@');
  if (!abstract && !value.startsWith('/')) {
    throw new FlannelError('BAD_NOTIFY_SOCKET', `NOTIFY_SOCKET=${JSON.stringify(value)}: want an absolute path or @abstract-name`);
  }
  const name = Buffer.from(abstract ? value.slice(1) : value, 'utf8');
  // A path needs its terminating NUL inside sun_path; an abstract name is exactly its bytes after the NUL.
  const pathBytes = abstract ? 1 + name.length : name.length + 1;
  if (name.length === 0 || pathBytes > SUN_PATH_BYTES) {
    throw new FlannelError('BAD_NOTIFY_SOCKET', `NOTIFY_SOCKET=${JSON.stringify(value)}: name must be 1..${SUN_PATH_BYTES - 1} bytes`);
  }
  const address = Buffer.alloc(2 + pathBytes);
  address.writeUInt16LE(AF_UNIX, 0);
  name.copy(address, abstract ? 3 : 2);
  return address;
}

/**
 * The datagram for a set of assignments, in the order given. A value cannot hold a newline (it would start a new
 * assignment), so newlines become spaces; STATUS texts come from error messages.
 */
export function notifyMessage(assignments: Readonly<Record<string, string>>): Buffer {
  const lines = Object.entries(assignments).map(([key, value]) => `${key}=${value.replace(/[\r\n]+/g, ' ')}`);
  return Buffer.from(lines.join('\n') + '\n', 'utf8');
}

/** Sends sd_notify messages to one NOTIFY_SOCKET. */
export class SdNotifier {
  private constructor(
    readonly socketName: string,
    private readonly address: Buffer,
  ) {}

  /** A notifier for `env.NOTIFY_SOCKET`, or undefined when it is unset or empty (not started by systemd). */
  static fromEnvironment(env: Readonly<Record<string, string | undefined>>): SdNotifier | undefined {
    const value = env.NOTIFY_SOCKET;
    if (value === undefined || value === '') return undefined;
    return new SdNotifier(value, notifySocketAddress(value));
  }

  /**
   * Sends one datagram (a fresh socket per message, as sd_notify does: a restarted systemd re-creates its
   * socket). Throws FlannelError with the errno name (e.g. ECONNREFUSED, ENOENT) when it cannot be delivered.
   */
  notify(assignments: Readonly<Record<string, string>>): void {
    const fd = check(socketCall(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0) as number, 'socket AF_UNIX');
    try {
      const message = notifyMessage(assignments);
      const sent = Number(sendtoCall(fd, message, message.length, MSG_NOSIGNAL, this.address, this.address.length));
      check(sent, `sendto NOTIFY_SOCKET ${this.socketName}`);
    } finally {
      closeFd(fd);
    }
  }
}
