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
  it('validates the renew margin and resync, maps the mode and firewall flags', () => {
    assert.throws(() => toDaemonOptions(parseFlags(['--subnet-lease-renew-margin=1440'], {})), /out of acceptable range/);
    assert.equal(toDaemonOptions(parseFlags(['--kube-subnet-mgr'], {})).options.kubeSubnetMgr, true);
    assert.equal(toDaemonOptions(parseFlags([], { FLANNELD_KUBE_SUBNET_MGR: '1' })).options.kubeSubnetMgr, true);
    assert.equal(toDaemonOptions(parseFlags(['--kube-subnet-mgr=false'], {})).options.kubeSubnetMgr, false);
    assert.throws(() => toDaemonOptions(parseFlags(['--iptables-resync=0'], {})), /invalid --iptables-resync 0/);
    const { options } = toDaemonOptions(parseFlags(['--ip-masq', '--ip-blackhole-route', '--ip-masq-fully-random-disable'], {}));
    assert.deepEqual([options.ipMasq, options.ipBlackholeRoute, options.ipMasqFullyRandomDisable, options.iptablesForwardRules], [true, true, true, true]);
  });
  it('parses integers like Go ParseInt base 0', () => {
    assert.deepEqual(['10', '0x10', '010', '0o10', '0b10', '1_000', '-5'].map(parseGoInt), [10, 16, 8, 8, 2, 1000, -5]);
    assert.deepEqual(['08', '1__0', '_1', 'x', ''].map(parseGoInt), [undefined, undefined, undefined, undefined, undefined]);
  });

  it('fails at start on a bad address flag, naming the flag and the value', () => {
    const table: Array<[string[], RegExp]> = [
      [['--etcd-endpoints=http://etcd:99999'], /invalid value "http:\/\/etcd:99999" for --etcd-endpoints: not a URL/],
      [['--etcd-endpoints=http://a:2379,ftp://b'], /invalid value "ftp:\/\/b" for --etcd-endpoints: scheme ftp is not supported/],
      [['--etcd-endpoints=http://[::1'], /invalid value "http:\/\/\[::1" for --etcd-endpoints/],
      [['--etcd-endpoints=http://etcd:2379/v3'], /for --etcd-endpoints: a path, query or fragment/],
      [['--etcd-endpoints=http://u:p@etcd:2379'], /for --etcd-endpoints: credentials/],
      [['--etcd-endpoints= , '], /for --etcd-endpoints: no endpoint given/],
      [['--healthz-port=8471', '--healthz-ip=300.1.1.1'], /invalid value "300.1.1.1" for --healthz-ip: not an IP address/],
      [['--healthz-port=8471', '--healthz-ip=[::1]'], /invalid value "\[::1\]" for --healthz-ip/],
      [['--healthz-port=8471', '--healthz-ip=bad host!'], /invalid value "bad host!" for --healthz-ip: neither an IP address nor a host name/],
      [['--iface-regex=eth0', '--iface-regex=(?<=x)'], /invalid value "\(\?<=x\)" for --iface-regex: could not compile the regex: lookaround/],
      [['--iface-regex=[[:nope:]]'], /for --iface-regex: could not compile the regex: invalid character class/],
      [['--iface-can-reach=10.0.0'], /invalid value "10.0.0" for --iface-can-reach: not an IP address/],
      [['--public-ip=fd00::1'], /invalid value "fd00::1" for --public-ip: not an IPv4 address/],
    ];
    for (const [argv, message] of table) {
      assert.throws(() => toDaemonOptions(parseFlags(argv, {})), (error: Error & { code?: string }) => error.code === 'BAD_FLAG' && message.test(error.message), argv.join(' '));
    }
    // From the environment too.
    assert.throws(() => toDaemonOptions(parseFlags([], { FLANNELD_ETCD_ENDPOINTS: 'http://etcd:99999' })), /for --etcd-endpoints/);
  });
  it('normalises etcd endpoints (bare host:port as etcd\'s client), and accepts good address flags', () => {
    const { options } = toDaemonOptions(parseFlags(['--etcd-endpoints=http://a:2379/, 10.0.0.2:2379,https://[fd00::2]:2379', '--healthz-port=1', '--healthz-ip=::'], {}));
    assert.deepEqual(options.etcdEndpoints, ['http://a:2379', 'http://10.0.0.2:2379', 'https://[fd00::2]:2379']);
    const tls = toDaemonOptions(parseFlags(['--etcd-endpoints=etcd:2379', '--etcd-cafile=/ca.pem'], {})).options;
    assert.deepEqual(tls.etcdEndpoints, ['https://etcd:2379']);
    for (const ip of ['', '127.0.0.1', 'localhost', 'node-1.example.com']) {
      assert.doesNotThrow(() => toDaemonOptions(parseFlags(['--healthz-port=8471', `--healthz-ip=${ip}`], {})), ip);
    }
    assert.doesNotThrow(() => toDaemonOptions(parseFlags(['--healthz-ip=junk!'], {})), 'unused without --healthz-port');
  });
});

describe('flannel-ts observability flags', () => {
  const options = (argv: string[], env: Record<string, string> = {}) => toDaemonOptions(parseFlags(argv, env)).options;
  const cases: Array<[string, string[], Record<string, string>, string, number]> = [
    ['defaults', [], {}, '/run/flannel/flanneld.sock', 30],
    ['flags', ['--status-socket=/run/x/f.sock', '--datapath-probe-interval=5'], {}, '/run/x/f.sock', 5],
    ['empty on the command line disables the socket, 0 the probes', ['--status-socket=', '--datapath-probe-interval=0'], {}, '', 0],
    ['FLANNELD_ variables', [], { FLANNELD_STATUS_SOCKET: '/tmp/s.sock', FLANNELD_DATAPATH_PROBE_INTERVAL: '2' }, '/tmp/s.sock', 2],
    ['an empty FLANNELD_ variable is ignored, as every one', [], { FLANNELD_STATUS_SOCKET: '' }, '/run/flannel/flanneld.sock', 30],
  ];
  for (const [name, argv, env, socket, interval] of cases) {
    it(name, () => {
      const parsed = options(argv, env);
      assert.deepEqual([parsed.statusSocket, parsed.datapathProbeIntervalSeconds], [socket, interval]);
    });
  }
  const bad: Array<[string, RegExp]> = [
    ['--status-socket=flanneld.sock', /invalid --status-socket "flanneld\.sock": want an absolute path/],
    [`--status-socket=/${'x'.repeat(110)}`, /at most 107 bytes/],
    ['--datapath-probe-interval=-1', /invalid --datapath-probe-interval -1/],
  ];
  for (const [flag, message] of bad) it(`refuses ${flag.slice(0, 40)}`, () => assert.throws(() => options([flag]), message));
});
