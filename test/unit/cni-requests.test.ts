/** The CNI plugin against requests a runtime (or an attacker with access to the runtime's inputs) may send. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type CniIo, runCniCommand } from '../../src/cni/cni-plugin.js';

const SUBNET_ENV = 'FLANNEL_NETWORK=10.1.0.0/16\nFLANNEL_SUBNET=10.1.17.1/24\nFLANNEL_MTU=1472\nFLANNEL_IPMASQ=true\n';
const ENV = { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c1', CNI_IFNAME: 'eth0', CNI_NETNS: '/var/run/netns/p', CNI_PATH: '/opt/cni/bin' };

function recordingIo(files: Record<string, string> = { '/s.env': SUBNET_ENV }): CniIo & { writes: string[]; delegated: string[] } {
  const writes: string[] = [];
  const delegated: string[] = [];
  return {
    writes,
    delegated,
    readText: (path) => files[path],
    writeScratch: (path, contents) => {
      writes.push(path);
      files[path] = contents;
    },
    removeScratch: (path) => void delete files[path],
    runDelegate: (_type, stdin) => {
      delegated.push(stdin);
      return { exitCode: 0, stdout: '{"cniVersion":"1.0.0","ips":[]}', stderr: '' };
    },
    debug: () => undefined,
  };
}

const conf = (extra: Record<string, unknown> = {}) => JSON.stringify({ cniVersion: '1.0.0', name: 'cbr0', type: 'flannel', subnetFile: '/s.env', dataDir: '/d', ...extra });
const errorOf = (outcome: { exitCode: number; stdout: string }) => {
  assert.equal(outcome.exitCode, 1, outcome.stdout);
  return JSON.parse(outcome.stdout) as { code: number; msg: string; details?: string; cniVersion?: string };
};

describe('CNI versions', () => {
  const ALL = ['0.1.0', '0.2.0', '0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'];
  it('VERSION reports every version upstream supports', () => {
    const version = JSON.parse(runCniCommand({ CNI_COMMAND: 'VERSION' }, '', recordingIo()).stdout);
    assert.deepEqual(version.supportedVersions, ALL);
  });
  for (const cniVersion of [...ALL, undefined]) {
    it(`ADD accepts a ${cniVersion ?? 'version-less (0.1.0)'} config`, () => {
      const io = recordingIo();
      const outcome = runCniCommand(ENV, conf({ cniVersion }), io);
      assert.equal(outcome.exitCode, 0, outcome.stdout);
      assert.equal(JSON.parse(io.delegated[0] as string).cniVersion, cniVersion);
    });
  }
  it('refuses a version it does not support, saying which it does', () => {
    const error = errorOf(runCniCommand(ENV, conf({ cniVersion: '9.9.9' }), recordingIo()));
    assert.equal(error.code, 1);
    assert.match(`${error.msg} ${error.details}`, /9\.9\.9.*0\.1\.0.*1\.1\.0/);
  });
  // The CNI spec introduced CHECK in 0.4.0; libcni's skel answers older configs with code 1.
  for (const cniVersion of ['0.1.0', '0.2.0', '0.3.0', '0.3.1', undefined]) {
    it(`CHECK on a ${cniVersion ?? 'version-less'} config fails with code 1`, () => {
      const error = errorOf(runCniCommand({ ...ENV, CNI_COMMAND: 'CHECK' }, conf({ cniVersion }), recordingIo()));
      assert.equal(error.code, 1);
      assert.match(error.msg, /config version does not allow CHECK/);
    });
  }
  it('CHECK on 0.4.0 and later succeeds', () => {
    for (const cniVersion of ['0.4.0', '1.0.0', '1.1.0']) assert.equal(runCniCommand({ ...ENV, CNI_COMMAND: 'CHECK' }, conf({ cniVersion }), recordingIo()).exitCode, 0);
  });
  it('a malformed version is a decode error naming it', () => {
    const error = errorOf(runCniCommand({ ...ENV, CNI_COMMAND: 'CHECK' }, conf({ cniVersion: '1.x' }), recordingIo()));
    assert.equal(error.code, 6);
    assert.match(error.msg, /"1\.x"/);
  });
});

describe('CNI request validation (as libcni skel)', () => {
  // [env overrides, netconf, code, message]
  const table: Array<[string, Record<string, string | undefined>, string, number, RegExp]> = [
    ['no name', {}, conf({ name: undefined }), 7, /missing network name/],
    ['empty name', {}, conf({ name: '' }), 7, /missing network name/],
    ['bad name', {}, conf({ name: '../n' }), 7, /invalid characters found in network name/],
    ['path in container ID', { CNI_CONTAINERID: '../../x' }, conf(), 4, /invalid characters in containerID/],
    ['slash in container ID', { CNI_CONTAINERID: 'a/b' }, conf(), 4, /invalid characters in containerID/],
    ['missing container ID', { CNI_CONTAINERID: undefined }, conf(), 4, /required env variables \[CNI_CONTAINERID\] missing/],
    ['missing several', { CNI_IFNAME: undefined, CNI_PATH: undefined }, conf(), 4, /required env variables \[CNI_IFNAME,CNI_PATH\] missing/],
    ['long interface name', { CNI_IFNAME: 'a'.repeat(16) }, conf(), 4, /interface name is too long/],
    ['interface name ..', { CNI_IFNAME: '..' }, conf(), 4, /interface name is \. or \.\./],
    ['interface name with /', { CNI_IFNAME: 'e/0' }, conf(), 4, /interface name contains/],
    ['unknown command', { CNI_COMMAND: 'FROB' }, conf(), 4, /unknown CNI_COMMAND: "FROB"/],
    ['not JSON', {}, '{nope', 6, /network config/],
    ['not an object', {}, '[1,2]', 6, /network config/],
  ].map(([what, env, netconf, code, message]) => [what, env, netconf, code, message] as [string, Record<string, string | undefined>, string, number, RegExp]);
  for (const [what, overrides, netconf, code, message] of table) {
    it(`${what}: code ${code}, nothing written or delegated`, () => {
      const io = recordingIo();
      const env: Record<string, string | undefined> = { ...ENV, ...overrides };
      const error = errorOf(runCniCommand(env, netconf, io));
      assert.equal(error.code, code, error.msg);
      assert.match(`${error.msg} ${error.details ?? ''}`, message);
      assert.deepEqual([io.writes, io.delegated], [[], []]);
    });
  }
  it('DEL validates too (a hostile container ID never reaches the file system)', () => {
    const io = recordingIo();
    const error = errorOf(runCniCommand({ ...ENV, CNI_COMMAND: 'DEL', CNI_CONTAINERID: '../../etc' }, conf(), io));
    assert.equal(error.code, 4);
  });
});

describe('delegate config JSON', () => {
  it('sorts keys at every level and escapes <, > and & as Go encoding/json does', () => {
    const io = recordingIo();
    const netconf = conf({
      delegate: { zeta: { y: 1, b: [{ d: 1, c: 2 }] }, alpha: 'a<b>&c' },
      ipam: { zz: 1, aa: { k: 2, j: 1 } },
      runtimeConfig: { portMappings: [{ hostPort: 80, containerPort: 8080 }] },
    });
    assert.equal(runCniCommand(ENV, netconf, io).exitCode, 0);
    const saved = io.delegated[0] as string;
    assert.ok(saved.includes('"zeta":{"b":[{"c":2,"d":1}],"y":1}'), saved);
    assert.ok(saved.includes('"ipam":{"aa":{"j":1,"k":2},"ranges":'), saved);
    assert.ok(saved.includes('"portMappings":[{"containerPort":8080,"hostPort":80}]'), saved);
    assert.ok(saved.includes('"alpha":"a\\u003cb\\u003e\\u0026c"'), saved);
  });
});
