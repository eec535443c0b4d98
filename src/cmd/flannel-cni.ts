#!/usr/bin/env node
/**
 * The `flannel` CNI plugin executable: the container runtime runs it with CNI_* variables and the network
 * config on stdin; it delegates to the plugin named by the config (bridge) found in CNI_PATH.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { readTextIfExists, writeFileAtomic } from '../adapters/files/atomic-file.js';
import { type CniIo, runCniCommand } from '../cni/cni-plugin.js';

const io: CniIo = {
  readText: readTextIfExists,
  writeScratch(path, contents) {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
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

const stdin = process.env.CNI_COMMAND === 'VERSION' ? '' : readFileSync(0, 'utf8');
const outcome = runCniCommand(process.env, stdin, io);
if (outcome.stdout) process.stdout.write(outcome.stdout + '\n');
process.exit(outcome.exitCode);
