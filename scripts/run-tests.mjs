#!/usr/bin/env node
// The whole test suite: unit tests, then contract tests inside a network namespace made for them (real etcd on
// that namespace's loopback, the netlink adapter on that namespace's kernel state), then the end-to-end lab
// tests. Needs root and the Debian packages installed by scripts/setup.sh. Prints one closing line
// "tests: N passed, N failed" over all tiers and exits non-zero if anything failed.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const tiers = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['unit', 'contract', 'e2e'];
const reportDir = mkdtempSync(join(tmpdir(), 'flannel-ts-tests-'));
if (tiers.some((tier) => tier !== 'unit') && process.getuid?.() !== 0) {
  console.error('contract and e2e tests need root (network namespaces, netlink, etcd); run as root or `npm run test:unit`');
  process.exit(1);
}

function files(tier) {
  const dir = join('dist', 'test', tier);
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true }).filter((f) => String(f).endsWith('.test.js')).map((f) => join(dir, String(f))).sort();
}

function runTier(tier, wrap) {
  const list = files(tier);
  if (list.length === 0) {
    console.error(`no ${tier} tests found under dist/test/${tier} (did the build run?)`);
    return { passed: 0, failed: 1 };
  }
  const tap = join(reportDir, `${tier}.tap`);
  const args = ['--test', '--test-concurrency=1', '--test-reporter=spec', '--test-reporter-destination=stdout',
    '--test-reporter=tap', `--test-reporter-destination=${tap}`, ...list];
  const [command, ...commandArgs] = wrap([process.execPath, ...args]);
  console.log(`\n=== ${tier} tests (${list.length} files) ===`);
  const started = Date.now();
  const result = spawnSync(command, commandArgs, { stdio: 'inherit' });
  const text = existsSync(tap) ? readFileSync(tap, 'utf8') : '';
  const count = (name) => Number(text.match(new RegExp(`^# ${name} (\\d+)$`, 'm'))?.[1] ?? 0);
  const passed = count('pass');
  let failed = count('fail') + count('cancelled');
  if (result.status !== 0 && failed === 0) failed = 1;
  console.log(`=== ${tier}: ${passed} passed, ${failed} failed in ${((Date.now() - started) / 1000).toFixed(1)} s ===`);
  return { passed, failed };
}

let passed = 0;
let failed = 0;
for (const tier of tiers) {
  let outcome;
  if (tier === 'contract') {
    // A namespace of our own: etcd listens on its loopback and the netlink tests change only its links.
    const netns = `ftct${process.pid % 100000}`;
    spawnSync('ip', ['netns', 'add', netns], { stdio: 'inherit' });
    spawnSync('ip', ['-n', netns, 'link', 'set', 'lo', 'up'], { stdio: 'inherit' });
    try {
      outcome = runTier(tier, (argv) => ['ip', 'netns', 'exec', netns, 'env', `FLANNEL_TS_TEST_NETNS=${netns}`, ...argv]);
    } finally {
      spawnSync('ip', ['netns', 'del', netns], { stdio: 'inherit' });
    }
  } else {
    outcome = runTier(tier, (argv) => argv);
  }
  passed += outcome.passed;
  failed += outcome.failed;
}
console.log(`\ntests: ${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
