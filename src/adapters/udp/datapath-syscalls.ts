/**
 * The libc calls of the udp data path, through koffi, declared for the hot path: buffers are passed as plain
 * numeric addresses (`addressOf` once per preallocated buffer, never per packet), so a call costs koffi's
 * ~60 ns plus the syscall and allocates nothing. A second binding module beside netlink/libc.ts on purpose:
 * that one passes Buffers and throws, these return raw results and leave errno to the caller, because EAGAIN
 * is the normal end of every batch.
 *
 * Struct layouts (msghdr, mmsghdr, iovec, sockaddr_in, pollfd, ifreq) are those of 64-bit Linux (x86-64 and
 * arm64 agree); `assertSupportedPlatform` refuses anything else.
 */
import { getSystemErrorMap } from 'node:util';
import koffi from 'koffi';
import { FlannelError } from '../../support/errors.js';

const libc = koffi.load('libc.so.6');

export const sys = {
  open: libc.func('int open(const char *path, int flags)'),
  close: libc.func('int close(int fd)'),
  ioctl: libc.func('int ioctl(int fd, unsigned long request, void *arg)'),
  /** ioctl whose argument is a value, not a pointer (TUNSETOFFLOAD). */
  ioctlValue: libc.func('ioctl', 'int', ['int', 'unsigned long', 'unsigned long']),
  read: libc.func('intptr_t read(int fd, intptr_t buffer, uintptr_t count)'),
  write: libc.func('intptr_t write(int fd, intptr_t buffer, uintptr_t count)'),
  writev: libc.func('intptr_t writev(int fd, intptr_t iovecs, int count)'),
  poll: libc.func('int poll(intptr_t fds, uint64_t count, int timeoutMs)'),
  socket: libc.func('int socket(int domain, int type, int protocol)'),
  bind: libc.func('int bind(int fd, void *address, uint32_t length)'),
  setsockopt: libc.func('int setsockopt(int fd, int level, int name, void *value, uint32_t length)'),
  getsockopt: libc.func('int getsockopt(int fd, int level, int name, void *value, _Inout_ uint32_t *length)'),
  recvmmsg: libc.func('int recvmmsg(int fd, intptr_t messages, uint32_t count, int flags, intptr_t timeout)'),
  sendmmsg: libc.func('int sendmmsg(int fd, intptr_t messages, uint32_t count, int flags)'),
  sendto: libc.func('intptr_t sendto(int fd, intptr_t buffer, uintptr_t length, int flags, void *address, uint32_t addressLength)'),
  eventfd: libc.func('int eventfd(uint32_t initial, int flags)'),
  socketpair: libc.func('int socketpair(int domain, int type, int protocol, intptr_t fds)'),
  getsockname: libc.func('int getsockname(int fd, intptr_t address, intptr_t length)'),
} as const;

export const O_RDWR = 2;
export const O_NONBLOCK = 0o4000;
export const O_CLOEXEC = 0o2000000;
export const AF_UNIX = 1;
export const AF_INET = 2;
export const SOCK_DGRAM = 2;
export const SOCK_RAW = 3;
export const SOCK_CLOEXEC = 0o2000000;
export const SOCK_NONBLOCK = 0o4000;
/** A raw socket of this protocol sends packets with their IP header included and never receives. */
export const IPPROTO_RAW = 255;
export const SOL_SOCKET = 1;
export const SO_SNDBUF = 7;
export const SO_RCVBUF = 8;
export const SO_SNDBUFFORCE = 32;
export const SO_RCVBUFFORCE = 33;
export const SO_SNDTIMEO = 21;
export const MSG_DONTWAIT = 0x40;
export const MSG_TRUNC = 0x20;
export const POLLIN = 0x1;
export const POLLERR = 0x8;
export const POLLHUP = 0x10;
export const POLLNVAL = 0x20;
export const EFD_NONBLOCK = 0o4000;
export const EFD_CLOEXEC = 0o2000000;
export const TUNSETIFF = 0x400454ca;
export const IFF_TUN = 0x0001;
export const IFF_NO_PI = 0x1000;
export const IFF_VNET_HDR = 0x4000;
export const TUNSETOFFLOAD = 0x400454d0;
export const TUN_F_CSUM = 0x01;
export const TUN_F_TSO4 = 0x02;
export const SOL_UDP = 17;
export const UDP_SEGMENT = 103;
export const UDP_GRO = 104;
export const CMSG_HEADER_BYTES = 16;
export const SIOCGIFINDEX = 0x8933;

export const EINTR = 4;
export const EIO = 5;
export const EBADF = 9;
export const EAGAIN = 11;
export const EFAULT = 14;
export const EINVAL = 22;
export const EMSGSIZE = 90;
export const EBADFD = 77;
export const ENOPROTOOPT = 92;

export const MMSGHDR_BYTES = 64;
export const IOVEC_BYTES = 16;
export const SOCKADDR_IN_BYTES = 16;
export const POLLFD_BYTES = 8;
export const IFREQ_BYTES = 40;

export function errno(): number {
  return koffi.errno();
}

/** Writes a 64-bit pointer or size as two 32-bit words (koffi gives addresses as numbers below 2^53). */
export function writeWord64(words: Uint32Array, at: number, value: number): void {
  words[at] = value % 0x1_0000_0000;
  words[at + 1] = Math.floor(value / 0x1_0000_0000);
}

/** The address of a Buffer's memory as a number (stable: ArrayBuffers of this size never move). */
export function addressOf(buffer: Buffer): number {
  return Number(koffi.address(buffer));
}

const errorMap = getSystemErrorMap();

/** A FlannelError coded with the errno's name (EBUSY…), e.g. "TUNSETIFF flannel0: Device or resource busy". */
export function errnoError(what: string, code = errno()): FlannelError {
  const [name, text] = errorMap.get(-code) ?? [`ERRNO_${code}`, `errno ${code}`];
  return new FlannelError(name, `${what}: ${text}`);
}

/** Throws errnoError for a negative result; returns the result otherwise. */
export function check(result: number, what: string): number {
  if (result < 0) throw errnoError(what);
  return result;
}

export function assertSupportedPlatform(): void {
  if (process.platform !== 'linux' || (process.arch !== 'x64' && process.arch !== 'arm64')) {
    throw new FlannelError('UNSUPPORTED', `the udp data path needs 64-bit Linux (x64 or arm64), not ${process.platform}/${process.arch}`);
  }
}

/** A sockaddr_in for `address` (network-order number) and `port`. */
export function socketAddress(address: number, port: number): Buffer {
  const sockaddr = Buffer.alloc(SOCKADDR_IN_BYTES);
  sockaddr.writeUInt16LE(AF_INET, 0);
  sockaddr.writeUInt16BE(port, 2);
  sockaddr.writeUInt32BE(address >>> 0, 4);
  return sockaddr;
}
