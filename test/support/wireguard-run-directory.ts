/**
 * wireguard-go's UAPI socket directory is fixed (/run/wireguard). Contract tests give themselves a tmpfs there in
 * the mount namespace `ip netns exec` made for the contract run, after checking it is not the host's.
 */
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { run } from '../../src/lab/shell.js';
import { assertInContractNetns } from './contract-netns.js';

export const RUN_DIRECTORY = '/run/wireguard';

/** The nearest ancestor process outside our network namespace (the test runner, before `ip netns exec`). */
function outsideAncestor(): number {
  const ownNetns = statSync('/proc/self/ns/net').ino;
  let pid = process.ppid;
  while (pid > 1 && statSync(`/proc/${pid}/ns/net`).ino === ownNetns) {
    pid = Number(readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ')[1]);
  }
  return pid;
}

/** A tmpfs over /run/wireguard in this test's own mount namespace (refuses to touch the host's). */
export function useOwnWireguardRunDirectory(): void {
  assertInContractNetns();
  if (statSync('/proc/self/ns/mnt').ino === statSync(`/proc/${outsideAncestor()}/ns/mnt`).ino) {
    throw new Error('refusing to mount over /run/wireguard in the host mount namespace (run through scripts/run-tests.mjs)');
  }
  mkdirSync(RUN_DIRECTORY, { recursive: true });
  run('mount', ['-t', 'tmpfs', '-o', 'mode=0755', 'wgct', RUN_DIRECTORY]);
}

export function releaseWireguardRunDirectory(): void {
  run('umount', [RUN_DIRECTORY], { allowFailure: true });
}
