/**
 * Installing as docs/install.md says, into scratch prefixes: the npm tarball (`npm pack`, `npm install -g`) and
 * the release tarball (scripts/build-release.sh, then its install.sh on a PATH without npm) both give working
 * flanneld, flannelctl and flannel (CNI) commands, and the packaged mk-docker-opts.sh works from there.
 * Packs the current build (`--ignore-scripts`: the suite runs after `npm run build`; prepack would rebuild).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { run } from '../../src/lab/shell.js';

const root = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string; scripts: Record<string, string> };

describe('install from the npm tarball and from the release tarball', { timeout: 120_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'flannel-ts-install-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const tarball = join(dir, `flannel-ts-${pkg.version}.tgz`);

  /** The three commands answer: version, usage, CNI VERSION. */
  function assertCommandsWork(bin: string, path: string): void {
    const env = { PATH: path };
    const version = spawnSync(join(bin, 'flanneld'), ['--version'], { encoding: 'utf8', env });
    assert.equal(version.status, 0, version.stderr);
    assert.equal(version.stderr, `${pkg.version}\n`);
    const help = spawnSync(join(bin, 'flannelctl'), ['--help'], { encoding: 'utf8', env });
    assert.equal(help.status, 0, help.stderr);
    assert.match(help.stdout + help.stderr, /flannelctl docker-opts/);
    const cni = spawnSync(join(bin, 'flannel'), [], { encoding: 'utf8', env: { ...env, CNI_COMMAND: 'VERSION' } });
    assert.equal(cni.status, 0, cni.stdout);
    assert.ok((JSON.parse(cni.stdout) as { supportedVersions: string[] }).supportedVersions.includes('1.0.0'));
  }

  it('npm pack ships the compiled commands, deploy files and docs, and no tests', () => {
    const packed = run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { env: { ...process.env, npm_config_loglevel: 'error' } });
    const files = (JSON.parse(packed.stdout) as Array<{ files: Array<{ path: string }> }>)[0]?.files.map((file) => file.path) ?? [];
    for (const expected of ['dist/src/cmd/flanneld.js', 'dist/src/cmd/flannelctl.js', 'dist/src/cmd/flannel-cni.js', 'dist/src/adapters/netlink/kernel-watcher.js',
      'deploy/systemd/flanneld.service', 'deploy/sysconfig/flanneld', 'deploy/default/flanneld', 'deploy/docker/mk-docker-opts.sh', 'deploy/cni/10-flannel.conflist', 'docs/install.md']) {
      assert.ok(files.includes(expected), `${expected} is in the package`);
    }
    assert.deepEqual(files.filter((file) => /^(test|bench|dist\/test|dist\/bench)\/|\.map$|\.ts$/.test(file)), []);
    assert.ok(existsSync(tarball));
    // A fresh clone has no dist/: packing it must build first.
    assert.equal(pkg.scripts.prepack, 'npm run build');
  });

  it('npm install -g into a scratch prefix: flanneld, flannelctl and flannel work, so does mk-docker-opts.sh', () => {
    const prefix = join(dir, 'npm-prefix');
    run('npm', ['install', '-g', '--prefix', prefix, tarball, '--prefer-offline', '--no-audit', '--no-fund'], { env: { ...process.env, npm_config_loglevel: 'error' }, timeoutMs: 120_000 });
    assertCommandsWork(join(prefix, 'bin'), `${join(prefix, 'bin')}:${process.env.PATH ?? ''}`);
    // The drop-in script, run through a symlink as from /usr/libexec/flannel/mk-docker-opts.sh.
    const script = join(prefix, 'lib', 'node_modules', 'flannel-ts', 'deploy', 'docker', 'mk-docker-opts.sh');
    mkdirSync(join(dir, 'libexec'));
    symlinkSync(script, join(dir, 'libexec', 'mk-docker-opts.sh'));
    writeFileSync(join(dir, 'subnet.env'), 'FLANNEL_NETWORK=10.1.0.0/16\nFLANNEL_SUBNET=10.1.74.1/24\nFLANNEL_MTU=1472\nFLANNEL_IPMASQ=false\n');
    const output = join(dir, 'docker_opts.env');
    run(join(dir, 'libexec', 'mk-docker-opts.sh'), ['-f', join(dir, 'subnet.env'), '-d', output, '-c'], { env: { PATH: `${dirname(process.execPath)}:/usr/bin:/bin` } });
    assert.equal(readFileSync(output, 'utf8'), 'DOCKER_OPTS=" --bip=10.1.74.1/24 --ip-masq=true --mtu=1472"\n');
  });

  it('the release tarball: build-release.sh, then install.sh on a host without npm', () => {
    const built = run('bash', [join(root, 'scripts', 'build-release.sh'), '--skip-build', '--out', join(dir, 'release')], { timeoutMs: 120_000 }).stdout.trim().split('\n').pop() ?? '';
    assert.match(built, new RegExp(`flannel-ts-${pkg.version.replace(/\./g, '\\.')}-linux-${process.arch}\\.tar\\.gz$`));
    const unpacked = join(dir, 'unpacked');
    mkdirSync(unpacked);
    run('tar', ['-xzf', built, '-C', unpacked]);
    // A PATH with node and the few tools install.sh uses, and no npm.
    const tools = join(dir, 'tools');
    mkdirSync(tools);
    symlinkSync(process.execPath, join(tools, 'node'));
    for (const tool of ['sh', 'cp', 'rm', 'mv', 'ln', 'mkdir', 'dirname', 'sed']) {
      const found = ['/usr/bin', '/bin'].map((directory) => join(directory, tool)).find((path) => existsSync(path));
      if (found) symlinkSync(found, join(tools, tool));
    }
    const prefix = join(dir, 'release-prefix');
    const release = join(unpacked, `flannel-ts-${pkg.version}-linux-${process.arch}`);
    const installed = run(join(tools, 'sh'), [join(release, 'install.sh'), '--prefix', prefix], { env: { PATH: tools } });
    assert.match(installed.stdout, /installed flannel-ts .* commands in .*: flanneld, flannelctl, flannel/);
    assertCommandsWork(join(prefix, 'bin'), tools);
    // Installing again (an upgrade) replaces the tree in place.
    run(join(tools, 'sh'), [join(release, 'install.sh'), '--prefix', prefix], { env: { PATH: tools } });
    assertCommandsWork(join(prefix, 'bin'), tools);
    assert.ok(!existsSync(join(prefix, 'lib', 'flannel-ts.old')) && !existsSync(join(prefix, 'lib', 'flannel-ts.new')));
  });
});
