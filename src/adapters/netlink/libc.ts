/**
 * The few libc calls Node cannot make itself, through koffi: socket/bind/setsockopt for AF_NETLINK and setns
 * to open a socket inside another network namespace. No FFI call is on a hot path: packets and netlink
 * messages go through fs.readSync/fs.writeSync on the returned descriptors.
 */
import { closeSync, openSync } from 'node:fs';
import { getSystemErrorMap } from 'node:util';
import koffi from 'koffi';
import { FlannelError } from '../../support/errors.js';

const libc = koffi.load('libc.so.6');
const socketCall = libc.func('int socket(int domain, int type, int protocol)');
const bindCall = libc.func('int bind(int fd, const uint8_t *addr, uint32_t len)');
const setsockoptCall = libc.func('int setsockopt(int fd, int level, int name, const uint8_t *value, uint32_t len)');
const setnsCall = libc.func('int setns(int fd, int nstype)');
const getsocknameCall = libc.func('int getsockname(int fd, _Out_ uint8_t *addr, _Inout_ uint32_t *len)');
const closeCall = libc.func('int close(int fd)');
const connectCall = libc.func('int connect(int fd, const uint8_t *addr, uint32_t len)');

const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0o2000000;
const CLONE_NEWNET = 0x40000000;
export const SOL_SOCKET = 1;
export const SO_RCVTIMEO = 20;
export const SO_RCVBUFFORCE = 33;
export const SOL_NETLINK = 270;
export const NETLINK_EXT_ACK = 11;
const errors = getSystemErrorMap();

/** Returns `result`, or throws FlannelError named for errno (e.g. EPERM) when a libc call returned -1. */
export function check(result: number, what: string): number {
  if (result >= 0) return result;
  const errno = koffi.errno();
  const [code, text] = errors.get(-errno) ?? [`ERRNO_${errno}`, `errno ${errno}`];
  throw new FlannelError(code, `${what}: ${text}`);
}

export function openRawSocket(domain: number, protocol: number): number {
  return check(socketCall(domain, SOCK_RAW | SOCK_CLOEXEC, protocol) as number, 'socket');
}

/** close(2) for descriptors made here (fs.closeSync warns about descriptors it did not open, in workers). */
export function closeFd(fd: number): void {
  closeCall(fd);
}

export function bindNetlink(fd: number, groups: number): void {
  const address = Buffer.alloc(12);
  address.writeUInt16LE(16 /* AF_NETLINK */, 0);
  address.writeUInt32LE(groups >>> 0, 8);
  check(bindCall(fd, address, address.length) as number, 'bind netlink');
}

/**
 * Sends this socket's datagrams to another netlink socket (port id) instead of the kernel. Unicast between
 * user sockets needs CAP_NET_ADMIN in the namespace (flanneld has it; it programs the kernel).
 */
export function connectNetlink(fd: number, portId: number): void {
  const address = Buffer.alloc(12);
  address.writeUInt16LE(16 /* AF_NETLINK */, 0);
  address.writeUInt32LE(portId >>> 0, 4);
  check(connectCall(fd, address, address.length) as number, 'connect netlink');
}

/** The port id the kernel gave a bound netlink socket (struct sockaddr_nl.nl_pid). */
export function netlinkPortId(fd: number): number {
  const address = Buffer.alloc(12);
  const length = [address.length];
  check(getsocknameCall(fd, address, length) as number, 'getsockname netlink');
  return address.readUInt32LE(4);
}

export function setSocketOption(fd: number, level: number, name: number, value: Buffer): void {
  check(setsockoptCall(fd, level, name, value, value.length) as number, `setsockopt ${level}/${name}`);
}

export function setReceiveTimeout(fd: number, milliseconds: number): void {
  const timeval = Buffer.alloc(16);
  timeval.writeBigInt64LE(BigInt(Math.floor(milliseconds / 1000)), 0);
  timeval.writeBigInt64LE(BigInt((milliseconds % 1000) * 1000), 8);
  setSocketOption(fd, SOL_SOCKET, SO_RCVTIMEO, timeval);
}

/**
 * Runs `create` with the calling thread switched into the network namespace at `netnsPath` (e.g.
 * /var/run/netns/NAME), then switches back. A socket created inside stays in that namespace.
 * JavaScript runs on one thread, so nothing else observes the switch.
 */
export function inNetworkNamespace<T>(netnsPath: string | undefined, create: () => T): T {
  if (!netnsPath) return create();
  const original = openSync('/proc/thread-self/ns/net', 'r');
  const target = openSync(netnsPath, 'r');
  try {
    check(setnsCall(target, CLONE_NEWNET) as number, `setns ${netnsPath}`);
    try {
      return create();
    } finally {
      check(setnsCall(original, CLONE_NEWNET) as number, 'setns back');
    }
  } finally {
    closeSync(target);
    closeSync(original);
  }
}
