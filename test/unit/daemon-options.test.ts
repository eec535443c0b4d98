import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { envNameOf, parseFlags, parseGoInt, toDaemonOptions } from '../../src/config/daemon-options.js';

describe('flanneld flags', () => {
  it('has upstream defaults', () => {
    const { options } = toDaemonOptions(parseFlags([], {}));
    assert.deepEqual(options.etcdEndpoints, ['http://127.0.0.1:4001', 'http://127.0.0.1:2379']);
    assert.equal(options.etcdPrefix, '/coreos.com/network');
    assert.equal(options.subnetFile, '/run/flannel/subnet.env');
    assert.equal(options.subnetLeaseRenewMarginMinutes, 60);
    assert.equal(options.healthzIP, '0.0.0.0');
    assert.equal(options.healthzPort, 0);
    assert.equal(options.iptablesResyncSeconds, 5);
    assert.equal(options.iptablesForwardRules, true);
  });
  it('accepts Go flag syntax, repeatable flags, and stops at the first non-flag', () => {
    const parsed = parseFlags(['-iface', 'eth0', '--iface=eth1', '-ip-masq=false', '--healthz-port', '0x1f90', 'extra', '--public-ip', 'x'], {});
    assert.deepEqual(parsed.values.iface, ['eth0', 'eth1']);
    assert.equal(parsed.values['healthz-port'], 8080);
    assert.equal(parsed.values['public-ip'], '');
  });
  it('rejects unknown flags and bad values', () => {
    assert.throws(() => parseFlags(['--nope'], {}), /flag provided but not defined: -nope/);
    assert.throws(() => parseFlags(['--healthz-port=abc'], {}), /invalid value "abc" for -healthz-port/);
    assert.throws(() => parseFlags(['--ip-masq=yes'], {}), /invalid value "yes"/);
  });
  it('maps FLANNELD_* env for flags not on the command line; command line wins; empty ignored', () => {
    const env = { FLANNELD_ETCD_PREFIX: '/env/prefix', FLANNELD_IFACE: 'eth0,eth1', FLANNELD_PUBLIC_IP: '', FLANNELD_HEALTHZ_PORT: '9000' };
    const parsed = parseFlags(['--healthz-port=1'], env);
    assert.equal(parsed.values['etcd-prefix'], '/env/prefix');
    assert.deepEqual(parsed.values.iface, ['eth0,eth1'], 'one element, no comma splitting');
    assert.equal(parsed.values['healthz-port'], 1);
    assert.ok(!parsed.given.has('public-ip'));
  });
  it('reports a bad env value as a warning and carries on', () => {
    const parsed = parseFlags([], { FLANNELD_IP_MASQ: 'yes' });
    assert.match(parsed.envWarnings[0] ?? '', /invalid value "yes" for FLANNELD_IP_MASQ/);
    assert.equal(parsed.values['ip-masq'], false);
  });
  it('names env variables as upstream', () => {
    assert.equal(envNameOf('ip-masq-fully-random-disable'), 'FLANNELD_IP_MASQ_FULLY_RANDOM_DISABLE');
    assert.equal(envNameOf('log_backtrace_at'), 'FLANNELD_LOG_BACKTRACE_AT');
  });
  it('validates the renew margin and resync, refuses features not built yet, maps the firewall flags', () => {
    assert.throws(() => toDaemonOptions(parseFlags(['--subnet-lease-renew-margin=1440'], {})), /out of acceptable range/);
    assert.throws(() => toDaemonOptions(parseFlags(['--kube-subnet-mgr'], {})), /not supported yet: --kube-subnet-mgr/);
    assert.throws(() => toDaemonOptions(parseFlags(['--kubeconfig-file=/k'], {})), /not supported yet: --kubeconfig-file/);
    assert.doesNotThrow(() => toDaemonOptions(parseFlags(['--kube-subnet-mgr=false'], {})));
    assert.throws(() => toDaemonOptions(parseFlags(['--iptables-resync=0'], {})), /invalid --iptables-resync 0/);
    const { options } = toDaemonOptions(parseFlags(['--ip-masq', '--ip-blackhole-route', '--ip-masq-fully-random-disable'], {}));
    assert.deepEqual([options.ipMasq, options.ipBlackholeRoute, options.ipMasqFullyRandomDisable, options.iptablesForwardRules], [true, true, true, true]);
  });
  it('parses integers like Go ParseInt base 0', () => {
    assert.deepEqual(['10', '0x10', '010', '0o10', '0b10', '1_000', '-5'].map(parseGoInt), [10, 16, 8, 8, 2, 1000, -5]);
    assert.deepEqual(['08', '1__0', '_1', 'x', ''].map(parseGoInt), [undefined, undefined, undefined, undefined, undefined]);
  });
});
