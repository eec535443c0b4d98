/**
 * Contract tests change kernel state and run etcd, so they must run inside the namespace the test runner made
 * for them (scripts/run-tests.mjs). This refuses to run anywhere else, loudly, rather than touch the host.
 */
import { statSync } from 'node:fs';

export function assertInContractNetns(): string {
  const netns = process.env.FLANNEL_TS_TEST_NETNS;
  if (!netns) throw new Error('contract tests must run through `node scripts/run-tests.mjs contract` (FLANNEL_TS_TEST_NETNS is not set)');
  const own = statSync('/proc/self/ns/net').ino;
  const expected = statSync(`/var/run/netns/${netns}`).ino;
  if (own !== expected) throw new Error(`contract tests are not running inside network namespace ${netns}`);
  return netns;
}
