/**
 * The shipped systemd files: `systemd-analyze verify` accepts them, and the env-file flow (CentOS-style
 * /etc/sysconfig/flanneld or Debian's /etc/default/flanneld → EnvironmentFile= → ExecStart= with $FLANNEL_OPTIONS)
 * hands flanneld the flags the file holds, as systemd expands them.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseFlags, toDaemonOptions } from '../../src/config/daemon-options.js';
import { execStartArgv, parseEnvironmentFile, serviceEnvironment, splitWords } from '../support/systemd-unit.js';

const root = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', '..');
const deploy = (path: string) => readFileSync(join(root, 'deploy', path), 'utf8');
const UNIT = deploy('systemd/flanneld.service');

describe("systemd's EnvironmentFile= grammar (as the tests reproduce it)", () => {
  const cases: Array<[string, string, Record<string, string>]> = [
    ['plain, double- and single-quoted values', 'A=1\nB="two words"\nC=\'single $X\'\n', { A: '1', B: 'two words', C: 'single $X' }],
    ['comments and blank lines; a # after a value is part of it', '# c\n; c\n\n  D = x # not a comment  \n', { D: 'x # not a comment' }],
    ['escapes: \\" \\$ kept unescaped in double quotes, other backslashes kept', 'E="a\\"b\\$c\\d"\n', { E: 'a"b$c\\d' }],
    ['continuation lines', 'F=one \\\ntwo\nG="x\\\ny"\n', { F: 'one two', G: 'xy' }],
    ['quotes after the first character are kept (no trailing newline needed)', 'H=--iface="eth0 x"', { H: '--iface="eth0 x"' }],
    ['lines without = and invalid names are skipped', 'junk\n1BAD=x\nOK=y\n', { OK: 'y' }],
    ['an empty value', 'I=\nJ=""\n', { I: '', J: '' }],
  ];
  for (const [name, text, expected] of cases) {
    it(name, () => assert.deepEqual(Object.fromEntries(parseEnvironmentFile(text)), expected));
  }
  it('$VAR splitting respects quotes', () => {
    assert.deepEqual(splitWords(`--a=1  --b="x y" 'c d'\t--e`, { cunescape: false, relax: true }), ['--a=1', '--b=x y', 'c d', '--e']);
  });
});

describe('flanneld.service + an environment file → the flanneld command line', () => {
  const files = (map: Record<string, string>) => (path: string) => map[path];

  it('CentOS style: the shipped /etc/sysconfig/flanneld', () => {
    const environment = serviceEnvironment(UNIT, files({ '/etc/sysconfig/flanneld': deploy('sysconfig/flanneld') }));
    const argv = execStartArgv(UNIT, environment);
    assert.deepEqual(argv, [
      '/usr/local/bin/flanneld', '--etcd-endpoints=https://10.0.0.11:2379,https://10.0.0.12:2379,https://10.0.0.13:2379', '--etcd-prefix=/coreos.com/network',
      '--etcd-cafile=/etc/flannel/ca.pem', '--etcd-certfile=/etc/flannel/client.pem', '--etcd-keyfile=/etc/flannel/client-key.pem',
      '--etcd-username=flannel', '--iface=eth0', '--ip-masq', '--healthz-port=8471',
    ]);
    // What flanneld makes of it, with the rest of the file in its environment (FLANNELD_ETCD_PASSWORD).
    const { options } = toDaemonOptions(parseFlags(argv.slice(1), Object.fromEntries(environment)));
    assert.deepEqual([options.etcdEndpoints.length, options.etcdCafile, options.etcdUsername, options.etcdPassword, options.ipMasq, options.iface],
      [3, '/etc/flannel/ca.pem', 'flannel', 'CHANGE-ME', true, ['eth0']]);
  });
  it('Debian style: the shipped /etc/default/flanneld; sysconfig wins where both exist', () => {
    const debian = execStartArgv(UNIT, serviceEnvironment(UNIT, files({ '/etc/default/flanneld': deploy('default/flanneld') })));
    assert.deepEqual(debian, ['/usr/local/bin/flanneld', '--etcd-endpoints=http://127.0.0.1:2379', '--etcd-prefix=/coreos.com/network', '--ip-masq']);
    const both = serviceEnvironment(UNIT, files({ '/etc/default/flanneld': 'FLANNEL_OPTIONS=--a\n', '/etc/sysconfig/flanneld': 'FLANNEL_OPTIONS=--b\n' }));
    assert.equal(both.get('FLANNEL_OPTIONS'), '--b');
  });
  it("no file: flanneld's own defaults and no extra argument (an unset $FLANNEL_OPTIONS is zero words)", () => {
    assert.deepEqual(execStartArgv(UNIT, serviceEnvironment(UNIT, files({}))), [
      '/usr/local/bin/flanneld', '--etcd-endpoints=http://127.0.0.1:4001,http://127.0.0.1:2379', '--etcd-prefix=/coreos.com/network',
    ]);
  });
  it('a quoted word in FLANNEL_OPTIONS stays one argument; ${…} never splits', () => {
    const environment = serviceEnvironment(UNIT, files({ '/etc/sysconfig/flanneld': `FLANNEL_ETCD_PREFIX="/my net"\nFLANNEL_OPTIONS="--etcd-cafile='/etc/my certs/ca.pem' --iface=eth1"\n` }));
    assert.deepEqual(execStartArgv(UNIT, environment).slice(2), ['--etcd-prefix=/my net', '--etcd-cafile=/etc/my certs/ca.pem', '--iface=eth1']);
  });
});

describe('systemd-analyze verify', () => {
  const dir = mkdtempSync(join(tmpdir(), 'unit-verify-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const available = spawnSync('systemd-analyze', ['--version']).status === 0;
  const docker = '/lib/systemd/system/docker.service';
  const hasDocker = spawnSync('test', ['-f', docker]).status === 0;

  /** Verifies copies whose /usr/local/bin/ points at this build (verify requires the executables to exist). */
  function verify(files: Record<string, string>, unitNames: string[]) {
    const bin = join(dir, 'bin');
    mkdirSync(bin, { recursive: true });
    for (const command of ['flanneld', 'flannelctl']) {
      rmSync(join(bin, command), { force: true });
      symlinkSync(join(root, 'dist', 'src', 'cmd', `${command}.js`), join(bin, command));
    }
    const units = join(dir, 'units');
    rmSync(units, { recursive: true, force: true });
    mkdirSync(join(units, 'docker.service.d'), { recursive: true });
    for (const [name, text] of Object.entries(files)) writeFileSync(join(units, name), text.replaceAll('/usr/local/bin/', `${bin}/`));
    return spawnSync('systemd-analyze', ['verify', ...unitNames.map((name) => join(units, name))], { encoding: 'utf8', cwd: dir });
  }

  it('accepts flanneld.service, without a word on stderr', { skip: !available && 'systemd-analyze not installed (scripts/setup.sh installs systemd)' }, () => {
    const result = verify({ 'flanneld.service': UNIT }, ['flanneld.service']);
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stderr, '');
  });
  it("accepts Debian's docker.service with our drop-in (and the drop-in is really read)", { skip: (!available || !hasDocker) && 'needs systemd-analyze and docker.io (scripts/setup.sh)' }, () => {
    const copy = join(dir, 'docker.service');
    copyFileSync(docker, copy);
    const files = { 'flanneld.service': UNIT, 'docker.service': readFileSync(copy, 'utf8'), 'docker.service.d/flannel.conf': deploy('systemd/docker.service.d/flannel.conf') };
    const result = verify(files, ['flanneld.service', 'docker.service']);
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stderr, '');
    // Without the drop-in's "ExecStart=" reset, systemd refuses a second ExecStart: proof the drop-in was loaded.
    const broken = verify({ ...files, 'docker.service.d/flannel.conf': files['docker.service.d/flannel.conf'].replace(/^ExecStart=\n/m, '') }, ['docker.service']);
    assert.notEqual(broken.status, 0);
    assert.match(broken.stderr, /more than one ExecStart/);
  });
  it('rejects a broken unit (the check can fail)', { skip: !available && 'systemd-analyze not installed' }, () => {
    const result = verify({ 'flanneld.service': UNIT.replace('Type=notify', 'Type=notifyy') }, ['flanneld.service']);
    assert.match(result.stderr, /Failed to parse service type|notifyy/);
  });
});
