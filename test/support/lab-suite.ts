/** E2E suite helpers: a lab made before the suite and removed after it (also when a test fails), and polling. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before } from 'node:test';
import { Lab, type LabOptions } from '../../src/lab/lab.js';
import { sleep } from '../../src/support/timing.js';

/**
 * Registers before/after hooks in the current suite; leftovers of a crashed earlier run are removed first.
 * FLANNEL_TS_LAB_TAG (1–2 lower-case letters/digits) is appended to the lab prefix, so that two checkouts can
 * run their end-to-end suites at the same time without sharing a namespace name.
 */
export function labForSuite(options: LabOptions): Lab {
  const lab = new Lab({ ...options, prefix: taggedPrefix(options.prefix) });
  before(async () => {
    await lab.down();
    await lab.up();
  });
  after(async () => {
    await lab.down();
  });
  return lab;
}

export function taggedPrefix(prefix: string): string {
  const tag = process.env.FLANNEL_TS_LAB_TAG ?? '';
  if (!/^[a-z0-9]{0,2}$/.test(tag)) throw new Error(`FLANNEL_TS_LAB_TAG must be 0-2 lower-case letters/digits, got ${JSON.stringify(tag)}`);
  return prefix + tag;
}

/** Polls `condition` every 10 ms; returns how long it took, fails the test after `timeoutMs`. */
export async function waitFor(what: string, condition: () => boolean, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > timeoutMs) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
  return Date.now() - started;
}

/**
 * Captures up to `count` packets with tcpdump in `netns` on `device` while `traffic` runs (bounded: `seconds`,
 * 6 by default). Packets the filter selects are decoded as VXLAN (tcpdump's default for UDP 8472 is OTV) unless
 * `decodeAsVxlan` is false.
 */
export async function captureWhile(netns: string, device: string, filter: readonly string[], count: number, traffic: () => void, seconds = 6, decodeAsVxlan = true): Promise<string> {
  const args = ['netns', 'exec', netns, 'timeout', String(seconds), 'tcpdump', ...(decodeAsVxlan ? ['-T', 'vxlan'] : []), '-i', device, '-nn', '-l', '-c', String(count), ...filter];
  const tcpdump = spawn('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let listening = false;
  tcpdump.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  tcpdump.stderr.on('data', (chunk: Buffer) => (listening ||= chunk.toString().includes('listening')));
  const exited = new Promise((resolve) => tcpdump.once('exit', resolve));
  await waitFor('tcpdump listening', () => listening, 5000);
  traffic();
  await exited;
  return output;
}

/** Pings `ip` from `netns` `count` times, 100 ms apart, in the background; resolves with ping's exit code and output. */
export function pingInBackground(netns: string, ip: string, count: number): Promise<{ code: number; output: string }> {
  const pinger = spawn('ip', ['netns', 'exec', netns, 'ping', '-n', '-q', '-i', '0.1', '-c', String(count), '-W', '1', ip], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  pinger.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return new Promise((resolve) => pinger.once('exit', (code) => resolve({ code: code ?? -1, output })));
}

/**
 * The ping matrix once WireGuard sessions had their chance: right after a lab starts, a handshake initiation
 * that reached a peer before that peer knew the sender is dropped, and WireGuard retries only after its 5 s
 * rekey timeout. Repeats the matrix until it is clean or `timeoutMs` passed; returns the last failures and
 * how long it took.
 */
export async function settledPingMatrix(lab: Lab, family: 4 | 6, timeoutMs = 12_000): Promise<{ failures: string[]; tookMs: number }> {
  const started = Date.now();
  let failures = lab.pingMatrix(family);
  while (failures.length > 0 && Date.now() - started < timeoutMs) {
    await sleep(500);
    failures = lab.pingMatrix(family);
  }
  return { failures, tookMs: Date.now() - started };
}
