/**
 * The container image really runs: scripts/build-image.sh builds it with podman (the base from Debian packages,
 * made once and reused), then flanneld --version runs in it, and its install-cni fills a scratch directory the
 * way the DaemonSet's init containers fill /opt/cni/bin and /etc/cni/net.d — and the installed plugin runs on
 * the host, outside the image.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { VERSION } from '../../src/version.js';
import { PREFERRED_VERSION, SUPPORTED_VERSIONS } from '../../src/cni/cni-versions.js';

const root = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', '..');
const image = `localhost/flannel-ts:${VERSION}`;
// This sandbox may not raise resource limits (no CAP_SYS_RESOURCE); podman's defaults would try to.
const LIMITS = ['--ulimit', 'nofile=4096:4096', '--ulimit', 'nproc=4096:4096'];
let scratch: string;

function podmanRun(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync('podman', ['run', '--rm', '--network=none', ...LIMITS, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('the flannel-ts image', () => {
  before(() => {
    const started = Date.now();
    execFileSync('bash', [join(root, 'scripts', 'build-image.sh')], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], timeout: 600_000 });
    process.stdout.write(`# image built in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    scratch = mkdtempSync(join(tmpdir(), 'flannel-ts-image-'));
  });
  after(() => rmSync(scratch, { recursive: true, force: true }));

  it('runs flanneld --version (the entrypoint)', () => {
    const result = podmanRun([image, '--version']);
    assert.equal(result.status, 0, result.stderr);
    assert.equal((result.stdout + result.stderr).trim(), VERSION);
  });

  it('install-cni fills a scratch directory as the init containers do; the plugin then runs on the host', () => {
    const bin = join(scratch, 'opt-cni-bin');
    const netd = join(scratch, 'etc-cni-net.d');
    const cfg = join(scratch, 'kube-flannel-cfg');
    for (const dir of [bin, netd, cfg]) mkdirSync(dir);
    const conflist = '{"name":"cbr0","cniVersion":"0.3.1","plugins":[{"type":"flannel","delegate":{"hairpinMode":true,"isDefaultGateway":true}},{"type":"portmap","capabilities":{"portMappings":true}}]}\n';
    writeFileSync(join(cfg, 'cni-conf.json'), conflist);
    const plugin = podmanRun(['-v', `${bin}:/opt/cni/bin`, '--entrypoint', '/opt/bin/flannelctl', image, 'install-cni', '--plugin-dir', '/opt/cni/bin']);
    assert.equal(plugin.status, 0, plugin.stderr);
    assert.match(plugin.stdout, /plugin copied to \/opt\/cni\/bin\/flannel-ts-[0-9a-f]{12}/);
    const conf = podmanRun(['-v', `${netd}:/etc/cni/net.d`, '-v', `${cfg}:/etc/kube-flannel:ro`, '--entrypoint', '/opt/bin/flannelctl', image,
      'install-cni', '--conf', '/etc/kube-flannel/cni-conf.json', '--conf-dest', '/etc/cni/net.d/10-flannel.conflist']);
    assert.equal(conf.status, 0, conf.stderr);
    assert.equal(readFileSync(join(netd, '10-flannel.conflist'), 'utf8'), conflist);
    const version = spawnSync(join(bin, 'flannel'), [], { env: { CNI_COMMAND: 'VERSION', PATH: '/usr/bin:/bin' }, encoding: 'utf8' });
    assert.equal(version.status, 0, version.stderr);
    assert.deepEqual(JSON.parse(version.stdout), { cniVersion: PREFERRED_VERSION, supportedVersions: [...SUPPORTED_VERSIONS] });
  });
});
