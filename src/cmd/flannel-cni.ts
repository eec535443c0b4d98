#!/usr/bin/env node
/**
 * The `flannel` CNI plugin executable: the container runtime runs it with CNI_* variables and the network
 * config on stdin; it delegates to the plugin named by the config (bridge) found in CNI_PATH.
 *
 * Whatever the input, the answer is a CNI result or a CNI error on stdout, promptly: stdin is read up to
 * 1 MiB (more is error 7, and nothing of it is echoed), an unreadable stdin is error 5, the scratch directory is
 * created one level at a time (Node's recursive mkdir spins forever on procfs), and nothing escapes as a
 * stack trace.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readSync, rmSync, statSync } from 'node:fs';
import { arch } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';
import { readTextIfExists, writeFileAtomic } from '../adapters/files/atomic-file.js';
import { type CniIo, runCniCommand } from '../cni/cni-plugin.js';
import { PREFERRED_VERSION, SUPPORTED_VERSIONS } from '../cni/cni-versions.js';
import { CNI_ERROR } from '../cni/delegate-config.js';
import { errorMessage } from '../support/errors.js';
import { VERSION } from '../version.js';

/** Far above any real network config (a few KiB); bounds memory and what a debug line can echo. */
const MAX_STDIN_BYTES = 1 << 20;
/** How long a non-blocking stdin may stay silent before we give up. */
const STDIN_IDLE_LIMIT_MS = 10_000;

class StdinError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/** All of stdin, or StdinError: too large (7), unreadable (5). */
function readStdin(): string {
  const chunks: Buffer[] = [];
  let total = 0;
  const buffer = Buffer.alloc(64 * 1024);
  let idleSinceMs = Date.now();
  for (;;) {
    let count: number;
    try {
      count = readSync(0, buffer, 0, buffer.length, null);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN' && Date.now() - idleSinceMs < STDIN_IDLE_LIMIT_MS) {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
        continue;
      }
      if (code === 'EOF') break;
      throw new StdinError(CNI_ERROR.ioFailure, `error reading from stdin: ${errorMessage(error)}`);
    }
    if (count === 0) break;
    idleSinceMs = Date.now();
    total += count;
    if (total > MAX_STDIN_BYTES) throw new StdinError(CNI_ERROR.invalidConfig, `network config on stdin is larger than ${MAX_STDIN_BYTES} bytes`);
    chunks.push(Buffer.from(buffer.subarray(0, count)));
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** mkdir -p one component at a time; each must end up a directory. */
function makeDirectories(path: string, mode: number): void {
  let current = '';
  for (const part of resolve(path).split(sep)) {
    current = current === '' ? sep : join(current, part);
    if (part === '') continue;
    try {
      mkdirSync(current, { mode });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      if (!statSync(current).isDirectory()) throw new Error(`${current} exists and is not a directory`);
    }
  }
}

const io: CniIo = {
  readText: readTextIfExists,
  writeScratch(path, contents) {
    makeDirectories(dirname(path), 0o700);
    writeFileAtomic(path, contents, 0o600, 0o700);
  },
  removeScratch: (path) => rmSync(path, { force: true }),
  runDelegate(type, stdin) {
    const directories = (process.env.CNI_PATH ?? '').split(':').filter((entry) => entry !== '');
    const binary = directories.map((directory) => join(directory, type)).find((path) => existsSync(path));
    if (!binary) {
      return { exitCode: 1, stdout: '', stderr: `failed to find plugin ${JSON.stringify(type)} in path [${directories.join(' ')}]` };
    }
    const result = spawnSync(binary, [], { input: stdin, env: process.env, encoding: 'utf8', timeout: 60_000 });
    return { exitCode: result.status ?? 1, stdout: result.stdout ?? '', stderr: (result.stderr ?? '') + (result.error ? String(result.error) : '') };
  },
  debug: (message) => process.stderr.write(`${message}\n`),
};

const ABOUT = `CNI Plugin flannel version ${VERSION} (linux/${arch()})\nCNI protocol versions supported: ${SUPPORTED_VERSIONS.join(', ')}\n`;

const USAGE = `Usage: CNI_COMMAND=ADD|DEL|CHECK|VERSION CNI_CONTAINERID=… CNI_NETNS=… CNI_IFNAME=… CNI_PATH=… flannel < network-config.json

The flannel CNI plugin: a container runtime runs it, with the CNI_* variables and the network config on stdin.
It reads flanneld's subnet.env (the config's "subnetFile", default /run/flannel/subnet.env) and delegates to the
plugin the config's "delegate" names (bridge by default), found in CNI_PATH.
  flannel --version   print the plugin's version and the CNI versions it supports
  flannel --help      this help
`;

/**
 * Run by hand (no CNI_COMMAND): --help and --version answer on stdout; no argument prints the version on
 * stderr as upstream's plugins do; anything else is a usage error (exit 2). Undefined: a CNI request, where
 * arguments are ignored as the CNI spec has runtimes pass none.
 */
function byHand(argv: readonly string[]): number | undefined {
  if (process.env.CNI_COMMAND) return undefined;
  const [first] = argv;
  if (first === undefined) {
    process.stderr.write(ABOUT);
    return 0;
  }
  if (first === '--help' || first === '-h') {
    process.stdout.write(USAGE);
    return 0;
  }
  if (first === '--version' || first === 'version') {
    process.stdout.write(ABOUT);
    return 0;
  }
  process.stderr.write(`flannel: unexpected argument ${JSON.stringify(first)}: a CNI plugin takes CNI_COMMAND and the network config on stdin (see 'flannel --help')\n`);
  return 2;
}

function main(): number {
  const answered = byHand(process.argv.slice(2));
  if (answered !== undefined) return answered;
  let stdin = '';
  try {
    if (process.env.CNI_COMMAND !== 'VERSION') stdin = readStdin();
  } catch (error) {
    const code = error instanceof StdinError ? error.code : CNI_ERROR.ioFailure;
    process.stdout.write(JSON.stringify({ cniVersion: PREFERRED_VERSION, code, msg: errorMessage(error) }) + '\n');
    return 1;
  }
  const outcome = runCniCommand(process.env, stdin, io);
  if (outcome.stdout) process.stdout.write(outcome.stdout + '\n');
  return outcome.exitCode;
}

let exitCode: number;
try {
  exitCode = main();
} catch (error) {
  process.stdout.write(JSON.stringify({ cniVersion: PREFERRED_VERSION, code: CNI_ERROR.internal, msg: errorMessage(error) }) + '\n');
  exitCode = 1;
}
process.exit(exitCode);
