/**
 * The receiving end of NOTIFY_SOCKET for tests: an AF_UNIX datagram socket bound to a path or an abstract
 * name (`@…`), as systemd binds /run/systemd/notify. Polls with MSG_DONTWAIT so the event loop keeps running.
 */
import { rmSync } from 'node:fs';
import koffi from 'koffi';
import { notifySocketAddress } from '../../src/adapters/systemd/sd-notify.js';
import { check, closeFd } from '../../src/adapters/netlink/libc.js';
import { sleep } from '../../src/support/timing.js';

const libc = koffi.load('libc.so.6');
const socketCall = libc.func('int socket(int domain, int type, int protocol)');
const bindCall = libc.func('int bind(int fd, const uint8_t *addr, uint32_t len)');
const recvCall = libc.func('intptr_t recv(int fd, _Out_ uint8_t *buf, size_t len, int flags)');
const MSG_DONTWAIT = 0x40;

export class NotifyReceiver {
  /** Every datagram received so far, as text. */
  readonly messages: string[] = [];
  private readonly fd: number;
  private readonly buffer = Buffer.alloc(4096);

  constructor(readonly name: string) {
    if (!name.startsWith('@')) rmSync(name, { force: true });
    this.fd = check(socketCall(1 /* AF_UNIX */, 2 /* SOCK_DGRAM */ | 0o2000000, 0) as number, 'socket');
    const address = notifySocketAddress(name);
    check(bindCall(this.fd, address, address.length) as number, `bind ${name}`);
  }

  /** Reads whatever has arrived. */
  drain(): string[] {
    for (;;) {
      const size = Number(recvCall(this.fd, this.buffer, this.buffer.length, MSG_DONTWAIT));
      if (size < 0) return this.messages;
      this.messages.push(this.buffer.subarray(0, size).toString('utf8'));
    }
  }

  /** Waits until a received datagram contains `line` as one of its lines; returns that datagram. */
  async waitFor(line: string, timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.drain().find((message) => message.split('\n').includes(line));
      if (found !== undefined) return found;
      if (Date.now() > deadline) throw new Error(`no ${line} on ${this.name} within ${timeoutMs} ms; got ${JSON.stringify(this.messages)}`);
      await sleep(10);
    }
  }

  close(): void {
    closeFd(this.fd);
    if (!this.name.startsWith('@')) rmSync(this.name, { force: true });
  }
}
