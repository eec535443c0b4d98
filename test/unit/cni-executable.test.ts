/** The built `flannel` CNI executable against hostile inputs: a CNI error, promptly, never a stack trace. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const CNI = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', 'src', 'cmd', 'flannel-cni.js');
const work = mkdtempSync(join(tmpdir(), 'flannel-ts-cni-'));
const subnetFile = join(work, 'subnet.env');
writeFileSync(subnetFile, 'FLANNEL_NETWORK=10.1.0.0/16\nFLANNEL_SUBNET=10.1.17.1/24\nFLANNEL_MTU=1472\nFLANNEL_IPMASQ=true\n');
const ENV = { PATH: process.env.PATH ?? '', CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c1', CNI_IFNAME: 'eth0', CNI_NETNS: '/var/run/netns/none', CNI_PATH: join(work, 'no-plugins') };
const conf = (extra: Record<string, unknown> = {}) => JSON.stringify({ cniVersion: '1.0.0', name: 'cbr0', type: 'flannel', subnetFile, dataDir: join(work, 'data'), ...extra });

function plugin(stdin: string | Buffer | number, env: Record<string, string> = ENV) {
  const started = Date.now();
  const result = spawnSync(process.execPath, [CNI], {
    env, timeout: 10_000, maxBuffer: 256 << 20,
    ...(typeof stdin === 'number' ? { stdio: [stdin, 'pipe', 'pipe'] } : { input: stdin }),
  });
  const stdout = String(result.stdout ?? '');
  const stderr = String(result.stderr ?? '');
  return { status: result.status, signal: result.signal, stdout, stderr, elapsedMs: Date.now() - started, error: stdout.trim() ? JSON.parse(stdout) as { code: number; msg: string } : undefined };
}

function assertNoStackTrace(stderr: string) {
  assert.doesNotMatch(stderr, /\n\s+at .+:\d+:\d+\)?\n/, 'no stack trace on stderr');
}

describe('flannel CNI executable', () => {
  after(() => rmSync(work, { recursive: true, force: true }));

  it('a huge netconf is refused at once, and not echoed to stderr', () => {
    const huge = conf({ delegate: { padding: 'x'.repeat(16 << 20) } });
    const result = plugin(huge);
    assert.equal(result.status, 1);
    assert.equal(result.error?.code, 7);
    assert.match(result.error?.msg ?? '', /larger than 1048576 bytes/);
    assert.ok(result.stderr.length < 64 * 1024, `stderr has ${result.stderr.length} bytes`);
    assertNoStackTrace(result.stderr);
  });

  it('stdin that cannot be read (a directory) is an I/O error, not a stack trace', () => {
    const fd = openSync(work, 'r');
    try {
      const result = plugin(fd);
      assert.equal(result.status, 1, result.stderr);
      assert.equal(result.error?.code, 5);
      assert.match(result.error?.msg ?? '', /error reading from stdin: .*EISDIR/);
      assertNoStackTrace(result.stderr);
    } finally {
      closeSync(fd);
    }
  });

  it('a dataDir on procfs is an I/O error naming it, promptly (no busy loop)', () => {
    const result = plugin(conf({ dataDir: '/proc/self/flannel-ts-test' }));
    assert.equal(result.signal, null, `killed by ${result.signal} after ${result.elapsedMs} ms`);
    assert.equal(result.status, 1);
    assert.equal(result.error?.code, 5);
    assert.match(result.error?.msg ?? '', /\/proc\/self\/flannel-ts-test/);
    assertNoStackTrace(result.stderr);
  });

  it('a container ID with a path never writes outside dataDir', () => {
    const result = plugin(conf(), { ...ENV, CNI_CONTAINERID: '../escaped' });
    assert.equal(result.error?.code, 4);
    assert.ok(!existsSync(join(work, 'escaped')));
    assert.ok(!existsSync(join(work, 'data')) || readdirSync(join(work, 'data')).length === 0);
  });

  it('without CNI_COMMAND prints what it is and exits 0, as libcni plugins do', () => {
    const { CNI_COMMAND: _omitted, ...env } = ENV;
    const result = plugin('', env);
    assert.equal(result.status, 0);
    assert.match(result.stderr, /CNI protocol versions supported: 0\.1\.0, .*1\.1\.0/);
  });

  it('a normal ADD gets as far as the delegate and reports its absence as a CNI error', () => {
    const result = plugin(conf());
    assert.equal(result.status, 1);
    assert.match(result.error?.msg ?? '', /failed to find plugin "bridge"/);
    assert.ok(existsSync(join(work, 'data', 'c1')), 'delegate config saved before the delegate runs');
  });
});
