import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type CniIo, runCniCommand } from '../../src/cni/cni-plugin.js';
import { buildDelegateConfig, parseNetConf } from '../../src/cni/delegate-config.js';
import { parseSubnetEnv, renderSubnetEnv } from '../../src/cni/subnet-env.js';
import { Cidr } from '../../src/net/ip.js';
import { config, lease } from '../support/fixtures.js';

describe('subnet.env', () => {
  it('renders exactly as upstream', () => {
    assert.equal(renderSubnetEnv(config(), lease('10.244.1.0/24', '198.18.0.11'), 1450, false),
      'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n');
    const dual = config({ EnableIPv6: true, IPv6Network: 'fd00:10:244::/56' });
    const dualLease = { ...lease('10.244.1.0/24', '198.18.0.11'), ipv6Subnet: Cidr.parse('fd00:10:244:1::/64') };
    assert.equal(renderSubnetEnv(dual, dualLease, 1500, true),
      'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_IPV6_NETWORK=fd00:10:244::/56\nFLANNEL_IPV6_SUBNET=fd00:10:244:1::1/64\nFLANNEL_MTU=1500\nFLANNEL_IPMASQ=true\n');
  });
  it('parses back masked, tolerating export and quotes', () => {
    const env = parseSubnetEnv('# c\nexport FLANNEL_NETWORK="10.1.0.0/16"\nFLANNEL_SUBNET=10.1.74.1/24\nFLANNEL_MTU=1472\nFLANNEL_IPMASQ=false\n');
    assert.equal(env.subnet?.toString(), '10.1.74.0/24');
    assert.equal(env.networks[0]?.toString(), '10.1.0.0/16');
    assert.equal(env.mtu, 1472);
    assert.equal(env.ipMasq, false);
  });
  it('names the key and value of a bad line', () => {
    assert.throws(() => parseSubnetEnv('FLANNEL_SUBNET=10.1.74.1\n'), /FLANNEL_SUBNET: invalid CIDR "10.1.74.1"/);
    assert.throws(() => parseSubnetEnv('FLANNEL_MTU=big\n'), /FLANNEL_MTU: invalid MTU "big"/);
  });
});

const ENV_TEXT = 'FLANNEL_NETWORK=10.1.0.0/16\nFLANNEL_SUBNET=10.1.17.1/24\nFLANNEL_MTU=1472\nFLANNEL_IPMASQ=true\n';

describe('delegate config', () => {
  it('matches upstream defaults', () => {
    const delegate = buildDelegateConfig(parseNetConf('{"cniVersion":"1.0.0","name":"cbr0","type":"flannel","delegate":{"hairpinMode":true,"isDefaultGateway":true}}'), parseSubnetEnv(ENV_TEXT));
    assert.deepEqual(delegate, {
      cniVersion: '1.0.0', hairpinMode: true, ipMasq: false, ipam: { ranges: [[{ subnet: '10.1.17.0/24' }]], routes: [{ dst: '10.1.0.0/16' }], type: 'host-local' },
      isDefaultGateway: true, isGateway: true, mtu: 1472, name: 'cbr0', type: 'bridge',
    });
  });
  it('keeps given ipam keys and routes, puts both families in ranges', () => {
    const env = parseSubnetEnv(ENV_TEXT + 'FLANNEL_IPV6_NETWORK=fd00::/56\nFLANNEL_IPV6_SUBNET=fd00:0:0:1::1/64\n');
    const delegate = buildDelegateConfig(parseNetConf('{"name":"n","ipam":{"dataDir":"/x","routes":[{"dst":"0.0.0.0/0"}]}}'), env);
    assert.deepEqual(delegate.ipam, {
      dataDir: '/x', type: 'host-local', ranges: [[{ subnet: '10.1.17.0/24' }], [{ subnet: 'fd00:0:0:1::/64' }]],
      routes: [{ dst: '0.0.0.0/0' }, { dst: '10.1.0.0/16' }, { dst: 'fd00::/56' }],
    });
  });
  for (const [delegate, pattern] of [
    ['{"type":1}', /must have \(string\) 'type'/],
    ['{"name":"x"}', /must not have 'name'/],
    ['{"ipam":{}}', /must not have 'ipam'/],
  ] as const) {
    it(`rejects delegate ${delegate}`, () => assert.throws(() => parseNetConf(`{"name":"n","delegate":${delegate}}`), pattern));
  }
});

function fakeIo(files: Record<string, string>, delegateExit = 0): CniIo & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    readText: (path) => files[path],
    writeScratch: (path, contents) => void (files[path] = contents),
    removeScratch: (path) => void delete files[path],
    runDelegate: (type, stdin) => {
      calls.push(`${type} ${process.env.X ?? ''}${stdin.length > 0 ? 'config' : ''}`);
      return delegateExit === 0
        ? { exitCode: 0, stdout: '{"cniVersion":"1.0.0","ips":[{"address":"10.1.17.2/24"}]}', stderr: '' }
        : { exitCode: 1, stdout: '{"cniVersion":"1.0.0","code":11,"msg":"busy"}', stderr: '' };
    },
    debug: () => undefined,
  };
}

describe('flannel CNI plugin commands', () => {
  const netconf = '{"cniVersion":"1.0.0","name":"cbr0","type":"flannel","subnetFile":"/s.env","dataDir":"/d"}';
  const env = { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c1', CNI_IFNAME: 'eth0', CNI_NETNS: '/n', CNI_PATH: '/opt/cni/bin' };
  it('ADD saves the delegate config first and returns the delegate result', () => {
    const files: Record<string, string> = { '/s.env': ENV_TEXT };
    const outcome = runCniCommand(env, netconf, fakeIo(files));
    assert.equal(outcome.exitCode, 0);
    assert.match(outcome.stdout, /10\.1\.17\.2/);
    assert.equal(JSON.parse(files['/d/c1'] as string).type, 'bridge');
  });
  it('ADD without subnet.env is a CNI error (try again later)', () => {
    const outcome = runCniCommand(env, netconf, fakeIo({}));
    assert.equal(outcome.exitCode, 1);
    const error = JSON.parse(outcome.stdout);
    assert.equal(error.code, 11);
    assert.match(error.msg, /\/s\.env: no such file/);
  });
  it('ADD with incomplete subnet.env lists what is missing', () => {
    const outcome = runCniCommand(env, netconf, fakeIo({ '/s.env': 'FLANNEL_NETWORK=10.1.0.0/16\n' }));
    assert.match(JSON.parse(outcome.stdout).msg, /is missing FLANNEL_SUBNET, FLANNEL_IPV6_SUBNET, FLANNEL_MTU, FLANNEL_IPMASQ/);
  });
  it('bad stdin is a decode error', () => {
    const outcome = runCniCommand(env, '{nope', fakeIo({}));
    assert.equal(outcome.exitCode, 1);
    assert.equal(JSON.parse(outcome.stdout).code, 6);
  });
  it('DEL replays the saved config and removes it; missing file is success', () => {
    const files: Record<string, string> = { '/d/c1': '{"type":"bridge"}' };
    const io = fakeIo(files);
    assert.equal(runCniCommand({ ...env, CNI_COMMAND: 'DEL' }, netconf, io).exitCode, 0);
    assert.equal(files['/d/c1'], undefined);
    assert.equal(io.calls.length, 1);
    assert.equal(runCniCommand({ ...env, CNI_COMMAND: 'DEL' }, netconf, io).exitCode, 0);
  });
  it('DEL keeps the saved config when the delegate fails, so a retry can release the address', () => {
    const files: Record<string, string> = { '/d/c1': '{"type":"bridge"}' };
    const outcome = runCniCommand({ ...env, CNI_COMMAND: 'DEL' }, netconf, fakeIo(files, 1));
    assert.equal(outcome.exitCode, 1);
    assert.equal(JSON.parse(outcome.stdout).code, 11);
    assert.ok(files['/d/c1']);
  });
  it('VERSION and CHECK', () => {
    assert.deepEqual(JSON.parse(runCniCommand({ CNI_COMMAND: 'VERSION' }, '', fakeIo({})).stdout).supportedVersions, ['0.1.0', '0.2.0', '0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0']);
    assert.equal(runCniCommand({ ...env, CNI_COMMAND: 'CHECK' }, netconf, fakeIo({})).exitCode, 0);
    assert.equal(JSON.parse(runCniCommand(env, netconf.replace('1.0.0', '9.9.9'), fakeIo({})).stdout).code, 1);
  });
});
