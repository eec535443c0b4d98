import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runHook } from '../../src/adapters/extension/hook-runner.js';
import {
  extensionLeaseAttrs, hookFailureMessage, peerChanges, postStartupInvocation, preStartupInvocation, subnetInvocation,
} from '../../src/backend/extension/extension-hooks.js';
import { checkExtensionConfig, parseExtensionOptions } from '../../src/backend/extension/extension-options.js';
import { type Lease, NO_IPV4_SUBNET, UNSET_IPV4, encodeLeaseAttrs } from '../../src/lease/lease.js';
import { Cidr, IpAddress } from '../../src/net/ip.js';
import { config } from '../support/fixtures.js';

const options = parseExtensionOptions({
  Type: 'extension',
  PreStartupCommand: 'cat /etc/hostname',
  PostStartupCommand: 'setup $NETWORK ${SUBNET} $IPV6SUBNET $PUBLIC_IP $PUBLIC_IPV6 $HOME',
  SubnetAddCommand: 'ip route add $SUBNET via $PUBLIC_IP',
  SubnetRemoveCommand: 'ip route del $SUBNET via $PUBLIC_IP',
  ShutdownCommand: 'ignored as upstream ignores it',
});
const environment = { HOME: '/root', SUBNET: 'from-the-environment' };
const peer = (subnet: string, publicIP: string, backendData?: unknown): Lease => ({
  subnet: Cidr.parse(subnet), attrs: { publicIP: IpAddress.parse(publicIP), backendType: 'extension', ...(backendData !== undefined ? { backendData } : {}) },
});

describe('extension options', () => {
  it('decodes the four commands case-insensitively and ignores other keys', () => {
    assert.deepEqual(parseExtensionOptions({ prestartupcommand: 'a', SUBNETADDCOMMAND: 'b', ShutdownCommand: 'c' }),
      { preStartupCommand: 'a', postStartupCommand: '', subnetAddCommand: 'b', subnetRemoveCommand: '' });
  });
  it('refuses commands that are not strings and commands without a program', () => {
    assert.deepEqual(checkExtensionConfig({ backend: { PreStartupCommand: 5, SubnetAddCommand: '  \t', SubnetRemoveCommand: '' } }), [
      'Backend.PreStartupCommand: expected a command line (a string), got 5',
      'Backend.SubnetAddCommand: "  \\t" has no program to run',
    ]);
  });
});

describe('extension hooks (as upstream runs them)', () => {
  it('PreStartup: no variables of its own, stdin "\\n"', () => {
    assert.deepEqual(preStartupInvocation(options, environment), { hook: 'PreStartup', command: 'cat /etc/hostname', argv: ['cat', '/etc/hostname'], env: {}, stdin: '\n' });
    assert.equal(preStartupInvocation({ ...options, preStartupCommand: '' }, environment), undefined);
  });
  it('PostStartup: NETWORK, SUBNET, IPV6SUBNET, PUBLIC_IP, PUBLIC_IPV6 with Go\'s text for missing values; they win over the environment', () => {
    const own: Lease = { subnet: Cidr.parse('10.244.1.0/24'), attrs: extensionLeaseAttrs({ ifaceAddr: Cidr.parse('198.18.0.11/24') }, undefined) };
    const run = postStartupInvocation(options, environment, { config: config({ Backend: { Type: 'extension' } }), own });
    assert.deepEqual(run?.env, { NETWORK: '10.244.0.0/16', SUBNET: '10.244.1.0/24', IPV6SUBNET: '::/0', PUBLIC_IP: '198.18.0.11', PUBLIC_IPV6: '<nil>' });
    assert.deepEqual(run?.argv, ['setup', '10.244.0.0/16', '10.244.1.0/24', '::/0', '198.18.0.11', '<nil>', '/root']);
    const dual: Lease = { subnet: NO_IPV4_SUBNET, ipv6Subnet: Cidr.parse('fd00:10:244:1::/64'), attrs: { publicIP: UNSET_IPV4, publicIPv6: IpAddress.parse('fd00:198::11'), backendType: 'extension' } };
    assert.deepEqual(postStartupInvocation(options, {}, { config: { network: undefined }, own: dual })?.env,
      { NETWORK: '0.0.0.0/0', SUBNET: '0.0.0.0/0', IPV6SUBNET: 'fd00:10:244:1::/64', PUBLIC_IP: '0.0.0.0', PUBLIC_IPV6: 'fd00:198::11' });
  });
  it('SubnetAdd/Remove: only SUBNET and PUBLIC_IP, stdin = the peer\'s BackendData string', () => {
    const add = subnetInvocation('SubnetAdd', options, environment, peer('10.244.2.0/24', '198.18.0.12', 'node-b'));
    assert.deepEqual(add, { hook: 'SubnetAdd', command: 'ip route add $SUBNET via $PUBLIC_IP', argv: ['ip', 'route', 'add', '10.244.2.0/24', 'via', '198.18.0.12'], env: { SUBNET: '10.244.2.0/24', PUBLIC_IP: '198.18.0.12' }, stdin: 'node-b\n' });
    assert.equal((subnetInvocation('SubnetRemove', options, environment, peer('10.244.2.0/24', '198.18.0.12')) as { stdin: string }).stdin, '\n', 'no BackendData: empty string');
    const problem = subnetInvocation('SubnetAdd', options, environment, peer('10.244.2.0/24', '198.18.0.12', { VNI: 1 }));
    assert.deepEqual(problem, { field: 'BackendData', value: '{"VNI":1}', reason: 'expected a JSON string (the PreStartupCommand output of the peer)' });
    assert.equal(subnetInvocation('SubnetAdd', options, environment, { ...peer('10.244.3.0/24', '198.18.0.13'), attrs: { publicIP: IpAddress.parse('198.18.0.13'), backendType: 'vxlan' } }), undefined, 'other backends are ignored');
  });
  it('our lease: interface addresses (not --public-ip), the PreStartup output as a JSON string', () => {
    const attrs = extensionLeaseAttrs({ ifaceAddr: Cidr.parse('198.18.0.11/24'), ifaceV6Addr: Cidr.parse('fd00:198::11/64') }, 'hello "b"');
    assert.equal(encodeLeaseAttrs(attrs), '{"PublicIP":"198.18.0.11","PublicIPv6":"fd00:198::11","BackendType":"extension","BackendData":"hello \\"b\\""}');
    assert.equal(encodeLeaseAttrs(extensionLeaseAttrs({}, undefined)), '{"PublicIP":"0.0.0.0","PublicIPv6":null,"BackendType":"extension"}');
  });
  it('runs SubnetAdd for new and changed leases, SubnetRemove for gone ones (with their last attributes)', () => {
    const b = peer('10.244.2.0/24', '198.18.0.12', 'b');
    const c = peer('10.244.3.0/24', '198.18.0.13', 'c');
    const first = peerChanges(new Map(), [b, c]);
    assert.deepEqual([first.added, first.removed], [[b, c], []]);
    const same = peerChanges(first.current, [peer('10.244.2.0/24', '198.18.0.12', 'b'), c]);
    assert.deepEqual([same.added, same.removed], [[], []], 'an equal lease (a renewal) runs nothing');
    const moved = peer('10.244.2.0/24', '198.18.0.22', 'b');
    const next = peerChanges(same.current, [moved]);
    assert.deepEqual([next.added, next.removed], [[moved], [c]]);
  });
  it('fatal hook errors read as upstream\'s', () => {
    const run = preStartupInvocation(options, {})!;
    assert.equal(hookFailureMessage(run, 'exit status 1', 'cat: /etc/hostname: No such file'), 'failed to run command: cat /etc/hostname Err: exit status 1 Output: cat: /etc/hostname: No such file');
  });
});

describe('extension hook runner', () => {
  const invocation = (argv: string[], stdin = '\n', env: Record<string, string> = {}) => ({ hook: 'SubnetAdd' as const, command: argv.join(' '), argv, env, stdin });
  it('passes argv without a shell, stdin, and the environment plus the hook variables; output combined and trimmed', async () => {
    const script = 'read line; echo "in=$line sub=$SUBNET home=$HOME arg=$1"; echo oops >&2';
    const result = await runHook(invocation(['sh', '-c', script, 'sh', 'a b;$(x)'], 'data\n', { SUBNET: '10.244.2.0/24' }), { environment: { HOME: '/h', PATH: process.env.PATH ?? '', SUBNET: 'overridden' } });
    assert.equal(result.ok, true);
    assert.equal(result.output, 'in=data sub=10.244.2.0/24 home=/h arg=a b;$(x)\noops');
  });
  it('reports failures in Go\'s words', async () => {
    assert.deepEqual(await runHook(invocation(['sh', '-c', 'echo no; exit 3'])), { ok: false, output: 'no', error: 'exit status 3' });
    assert.deepEqual(await runHook(invocation(['no-such-program-flannel'])), { ok: false, output: '', error: 'exec: "no-such-program-flannel": executable file not found in $PATH' });
    assert.deepEqual(await runHook(invocation(['/nonexistent/x'])), { ok: false, output: '', error: 'fork/exec /nonexistent/x: no such file or directory' });
    assert.deepEqual(await runHook(invocation([''])), { ok: false, output: '', error: 'exec: no command' });
    assert.deepEqual(await runHook(invocation(['sh', '-c', 'kill -TERM $$'])), { ok: false, output: '', error: 'signal: terminated' });
  });
  it('a hook that ignores stdin is fine; a hung one is killed at the timeout; output is bounded', async () => {
    assert.equal((await runHook(invocation(['true'], 'x'.repeat(1 << 20)))).ok, true);
    const hung = await runHook(invocation(['sleep', '30']), { timeoutMs: 100 });
    assert.deepEqual([hung.ok, hung.error], [false, 'signal: killed (no result within 100 ms)']);
    const loud = await runHook(invocation(['sh', '-c', 'head -c 5000 /dev/zero | tr "\\0" a']), { maxOutputBytes: 1000 });
    assert.equal(loud.output, `${'a'.repeat(1000)} (output cut at 1000 bytes)`);
  });
});
