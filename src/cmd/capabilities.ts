/** The process's Linux capabilities, for commands that need some to do their job. */
import { readFileSync } from 'node:fs';

const CAP_NET_ADMIN = 12n;

/**
 * Whether this process holds CAP_NET_ADMIN in its effective set (/proc/self/status CapEff): needed for netlink
 * writes and the large netlink receive buffer. Without /proc, root is taken to have it.
 */
export function hasNetAdmin(status = () => readFileSync('/proc/self/status', 'utf8')): boolean {
  try {
    const line = /^CapEff:\s*([0-9a-f]+)$/m.exec(status());
    return line ? (BigInt(`0x${line[1]}`) & (1n << CAP_NET_ADMIN)) !== 0n : process.getuid?.() === 0;
  } catch {
    return process.getuid?.() === 0;
  }
}
