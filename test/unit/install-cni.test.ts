/** `flannelctl install-cni`'s logic on a scratch directory: plugin bundle + wrapper, idempotence, conflist. */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cniInstallIo } from '../../src/adapters/files/cni-install-io.js';
import { installCni, pluginWrapper } from '../../src/cni/install-cni.js';

let root: string;
const source = () => ({ runtime: join(root, 'runtime'), sources: join(root, 'dist-src'), version: '9.9.9' });

describe('install-cni', () => {
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'flannel-ts-install-cni-'));
    writeFileSync(join(root, 'runtime'), '#!/bin/sh\necho runtime "$@"\n');
    mkdirSync(join(root, 'dist-src', 'cmd'), { recursive: true });
    writeFileSync(join(root, 'dist-src', 'cmd', 'flannel-cni.js'), 'console.log(1)\n');
    writeFileSync(join(root, 'dist-src', 'cmd', 'flannel-cni.js.map'), '{}');
    mkdirSync(join(root, 'bin'));
    mkdirSync(join(root, 'net.d'));
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('installs a bundle and a wrapper that runs it; a second run copies nothing', () => {
    const first = installCni({ plugin: { directory: join(root, 'bin'), source: source() } }, cniInstallIo);
    const bundles = readdirSync(join(root, 'bin')).filter((name) => name.startsWith('flannel-ts-'));
    assert.equal(bundles.length, 1);
    const bundle = bundles[0] as string;
    assert.match(bundle, /^flannel-ts-[0-9a-f]{12}$/);
    assert.deepEqual(first.lines, [`plugin copied to ${root}/bin/${bundle} (2 files)`, `plugin ${root}/bin/flannel → ${bundle}`]);
    assert.equal(readFileSync(join(root, 'bin', 'flannel'), 'utf8'), pluginWrapper(bundle, '9.9.9'));
    assert.equal(statSync(join(root, 'bin', 'flannel')).mode & 0o777, 0o755);
    assert.equal(statSync(join(root, 'bin', bundle, 'node')).mode & 0o777, 0o755);
    assert.ok(existsSync(join(root, 'bin', bundle, 'src', 'cmd', 'flannel-cni.js')));
    assert.ok(!existsSync(join(root, 'bin', bundle, 'src', 'cmd', 'flannel-cni.js.map')), 'only .js files');
    assert.equal(readFileSync(join(root, 'bin', bundle, 'package.json'), 'utf8'), '{"type":"module"}\n');
    const second = installCni({ plugin: { directory: join(root, 'bin'), source: source() } }, cniInstallIo);
    assert.deepEqual(second.lines, [`plugin ${root}/bin/${bundle} already installed`]);
  });

  it('new sources get a new bundle; the old one is removed after the wrapper moved', () => {
    const before = readdirSync(join(root, 'bin')).filter((name) => name.startsWith('flannel-ts-'));
    writeFileSync(join(root, 'dist-src', 'cmd', 'flannel-cni.js'), 'console.log(2)\n');
    installCni({ plugin: { directory: join(root, 'bin'), source: source() } }, cniInstallIo);
    const after = readdirSync(join(root, 'bin')).filter((name) => name.startsWith('flannel-ts-'));
    assert.equal(after.length, 1);
    assert.notEqual(after[0], before[0]);
    assert.match(readFileSync(join(root, 'bin', 'flannel'), 'utf8'), new RegExp(after[0] as string));
  });

  it('installs the conflist with the source\'s mode, leaving no temporary file', () => {
    writeFileSync(join(root, 'cni-conf.json'), '{"name":"cbr0","cniVersion":"0.3.1","plugins":[{"type":"flannel"}]}\n');
    chmodSync(join(root, 'cni-conf.json'), 0o640);
    const report = installCni({ conf: { source: join(root, 'cni-conf.json'), destination: join(root, 'net.d', '10-flannel.conflist') } }, cniInstallIo);
    assert.deepEqual(report.lines, [`network config ${root}/cni-conf.json installed as ${root}/net.d/10-flannel.conflist`]);
    assert.equal(readFileSync(join(root, 'net.d', '10-flannel.conflist'), 'utf8'), readFileSync(join(root, 'cni-conf.json'), 'utf8'));
    assert.equal(statSync(join(root, 'net.d', '10-flannel.conflist')).mode & 0o777, 0o640);
    assert.deepEqual(readdirSync(join(root, 'net.d')), ['10-flannel.conflist']);
  });

  it('refuses a conflist that is not a JSON object and keeps the installed one', () => {
    writeFileSync(join(root, 'broken.json'), '{"name": cbr0');
    assert.throws(() => installCni({ conf: { source: join(root, 'broken.json'), destination: join(root, 'net.d', '10-flannel.conflist') } }, cniInstallIo),
      { code: 'INSTALL_CNI', message: new RegExp(`^error installing "${root}/broken.json": not JSON`) });
    assert.match(readFileSync(join(root, 'net.d', '10-flannel.conflist'), 'utf8'), /cbr0/);
    assert.throws(() => installCni({ conf: { source: join(root, 'missing.json'), destination: join(root, 'net.d', 'x') } }, cniInstallIo), /ENOENT/);
    assert.throws(() => installCni({}, cniInstallIo), { code: 'BAD_USAGE' });
  });
});
