/**
 * Finding a running flanneld for `flannelctl uninstall` (ops/running-flanneld.ts) from process facts and the
 * status socket's answer, and the /proc reader (cmd/proc-processes.ts) on a fake /proc and on this process.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ownNetworkNamespace, readProcesses } from '../../src/cmd/proc-processes.js';
import { type ProcessFacts, isFlanneldCommand, runningFlanneld } from '../../src/ops/running-flanneld.js';
import { until } from '../support/daemon-host.js';

const HERE = 'net:[4026531840]';
const LAB = 'net:[4026532999]';

describe('isFlanneldCommand', () => {
  const cases: Array<[string[], string | undefined, boolean]> = [
    [['/opt/bin/flanneld', '--ip-masq', '--kube-subnet-mgr'], '/opt/bin/flanneld', true],
    [['/work/upstream/flanneld-v0.20.2', '-etcd-endpoints=http://x:2379'], undefined, true],
    [['flanneld_amd64'], undefined, true],
    [['node', '--max-semi-space-size=2', '/usr/local/bin/flanneld', '--iface=eth0'], '/usr/bin/node', true],
    [['/usr/bin/node', '--max-semi-space-size=2', '/srv/flannel-ts/dist/src/cmd/flanneld.js'], '/usr/bin/node', true],
    [['node', '/usr/local/bin/flannelctl', 'uninstall'], '/usr/bin/node', false],
    [['node', '--test', 'dist/test/unit/flanneld.test.js'], '/usr/bin/node', false],
    [['systemctl', 'restart', 'flanneld'], '/usr/bin/systemctl', false],
    [['journalctl', '-u', 'flanneld'], undefined, false],
    [['grep', 'flanneld'], undefined, false],
    [['vim', 'flanneld.ts'], undefined, false],
    [['sh', '-c', 'flanneld --ip-masq'], '/usr/bin/dash', false],
    [['flannelctl'], undefined, false],
    [[], undefined, false],
  ];
  for (const [argv, exe, expected] of cases) {
    it(`${argv.join(' ') || '(empty)'} ${expected ? 'is' : 'is not'} a flanneld`, () => assert.equal(isFlanneldCommand(argv, exe), expected));
  }
});

describe('runningFlanneld', () => {
  const ours: ProcessFacts = { pid: 100, argv: ['/usr/local/bin/flanneld', '--iface=eth0'], netns: HERE, state: 'S' };
  const inLab: ProcessFacts = { pid: 200, argv: ['node', 'dist/src/cmd/flanneld.js'], exe: '/usr/bin/node', netns: LAB, state: 'S' };
  const zombie: ProcessFacts = { pid: 300, argv: ['flanneld'], netns: HERE, state: 'Z' };
  const self: ProcessFacts = { pid: 400, argv: ['flanneld'], netns: HERE, state: 'R' };
  const other: ProcessFacts = { pid: 1, argv: ['/sbin/init'], netns: HERE, state: 'S' };
  const cases: Array<[string, ProcessFacts[], Parameters<typeof runningFlanneld>[3], RegExp | undefined]> = [
    ['a flanneld in this namespace', [other, ours], { absent: true }, /^flanneld is running in this network namespace \(pid 100: \/usr\/local\/bin\/flanneld --iface=eth0\)$/],
    ['one in another namespace only (a lab, a pod)', [other, inLab], { absent: true }, undefined],
    ['the socket answers for the one in another namespace', [other, inLab], { pid: 200 }, undefined],
    ['a zombie, or ourselves', [zombie, self], { absent: true }, undefined],
    ['the socket answers with a pid we cannot see (another pid namespace)', [other], { pid: 7 }, /^a flanneld answers on \/run\/flannel\/flanneld\.sock \(its pid 7/],
    ['the socket answers with the pid of something else', [other], { pid: 1 }, /^a flanneld answers on/],
    ['the socket is held but silent', [other], { error: 'no answer within 3000 ms' }, /does not answer \(no answer within 3000 ms\)/],
  ];
  for (const [name, processes, socket, reason] of cases) {
    it(name, () => {
      const result = runningFlanneld(processes, HERE, 400, socket, '/run/flannel/flanneld.sock');
      if (reason) assert.match(result.reason ?? '', reason);
      else assert.equal(result.reason, undefined);
    });
  }
});

describe('readProcesses', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fake-proc-'));
  let child: ChildProcess | undefined;
  after(() => {
    child?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads command lines, executables, namespaces and states; skips what vanished', () => {
    const add = (pid: string, cmdline: string, stat: string | undefined, links: Record<string, string>) => {
      mkdirSync(join(dir, pid, 'ns'), { recursive: true });
      writeFileSync(join(dir, pid, 'cmdline'), cmdline);
      if (stat !== undefined) writeFileSync(join(dir, pid, 'stat'), stat);
      for (const [name, target] of Object.entries(links)) symlinkSync(target, join(dir, pid, name));
    };
    add('42', 'node\0--max-semi-space-size=2\0/usr/local/bin/flanneld\0--iface=eth0\0', '42 (node) S 1 42', { exe: '/usr/bin/node', 'ns/net': HERE });
    add('43', 'flanneld\0', '43 (weird) name) Z 1 43', {});
    mkdirSync(join(dir, '44'));
    mkdirSync(join(dir, 'self'));
    const processes = readProcesses(dir).sort((a, b) => a.pid - b.pid);
    assert.deepEqual(processes, [
      { pid: 42, argv: ['node', '--max-semi-space-size=2', '/usr/local/bin/flanneld', '--iface=eth0'], exe: '/usr/bin/node', netns: HERE, state: 'S' },
      { pid: 43, argv: ['flanneld'], state: 'Z' },
    ]);
  });

  it('finds a flanneld started here, in this namespace', async () => {
    const script = join(dir, 'flanneld.js');
    writeFileSync(script, 'setTimeout(() => undefined, 20000);\n');
    child = spawn(process.execPath, ['--max-semi-space-size=2', script, '--iface=eth0'], { stdio: 'ignore' });
    const netns = ownNetworkNamespace() ?? assert.fail('no /proc/self/ns/net');
    await until('the process is in /proc', () => readProcesses().some((entry) => entry.pid === child?.pid && entry.argv.includes(script)), 5000);
    assert.match(runningFlanneld(readProcesses(), netns, process.pid, { absent: true }, '/x').reason ?? '', new RegExp(`pid ${child.pid}: `));
  });
});
