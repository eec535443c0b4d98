/** The built executables' command-line behaviour (no root needed: these paths exit before touching the kernel). */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const cmd = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', 'src', 'cmd');
function run(script: string, args: string[], options: { input?: string; env?: Record<string, string> } = {}) {
  const result = spawnSync(process.execPath, [join(cmd, script), ...args], {
    encoding: 'utf8', input: options.input ?? '', env: { PATH: process.env.PATH ?? '', ...options.env }, timeout: 20_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Runs a command without CAP_NET_ADMIN: as nobody when we are root, else as ourselves. */
function unprivileged(script: string, args: string[]) {
  if (process.getuid?.() !== 0) return run(script, args);
  const result = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, join(cmd, script), ...args], {
    encoding: 'utf8', input: '', env: { PATH: process.env.PATH ?? '' }, timeout: 20_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('flanneld command line', () => {
  it('--version prints to stderr and exits 0', () => {
    const result = run('flanneld.js', ['--version']);
    assert.equal(result.status, 0);
    assert.match(result.stderr, /^\d+\.\d+\.\d+\n$/);
  });
  it('--help lists every flag with its env variable and exits 0', () => {
    const result = run('flanneld.js', ['-h']);
    assert.equal(result.status, 0);
    assert.match(result.stderr, /^Usage: flanneld \[OPTION\]\.\.\./);
    assert.match(result.stderr, /-etcd-endpoints string[\s\S]*FLANNELD_ETCD_ENDPOINTS/);
  });
  it('an unknown flag exits 2 with one line', () => {
    const result = run('flanneld.js', ['--bogus']);
    assert.equal(result.status, 2);
    assert.equal(result.stderr, "flanneld: flag provided but not defined: -bogus (see 'flanneld --help')\n");
  });
  const strays: Array<[string[], string]> = [
    [['--ip-masq', 'false', '--iface', 'eth0'], 'unexpected argument "false": a boolean flag takes its value as -ip-masq=false'],
    [['--iface', 'eth0', 'extra'], 'unexpected argument "extra": flanneld takes flags only'],
    [['--', 'x'], 'unexpected argument "x": flanneld takes flags only'],
  ];
  for (const [args, message] of strays) {
    it(`${args.join(' ')}: a stray argument exits 2 (upstream silently drops every flag after it)`, () => {
      const result = run('flanneld.js', args);
      assert.equal(result.status, 2);
      assert.equal(result.stderr, `flanneld: ${message} (see 'flanneld --help')\n`);
    });
  }
  it('without CAP_NET_ADMIN: one fatal line saying it needs root, no stack trace', () => {
    const result = unprivileged('flanneld.js', ['--etcd-endpoints=http://127.0.0.1:9', '--subnet-file=/nonexistent/subnet.env']);
    assert.equal(result.status, 1);
    assert.match(result.stderr, /^F\d{4} [\d:.]+ +\d+ flanneld\] "flanneld needs root \(CAP_NET_ADMIN\) to program devices, routes and firewall rules"/m);
    assert.doesNotMatch(result.stderr, /\n\s+at /);
  });
  it('Kubernetes mode: bad settings are fatal at start in upstream\'s words (also through FLANNELD_*)', () => {
    const cases: Array<[string[], Record<string, string>, RegExp]> = [
      [[], { FLANNELD_KUBE_SUBNET_MGR: 'true' }, /fail to create kubernetes config: unable to load in-cluster configuration, KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be defined/],
      [['--kube-subnet-mgr', '--kube-api-url=http://127.0.0.1:1'], { EVENT_QUEUE_DEPTH: 'x' }, /env EVENT_QUEUE_DEPTH=x format error: strconv\.Atoi: parsing \\?"x\\?": invalid syntax/],
      [['--kube-subnet-mgr', '--kube-api-url=http://127.0.0.1:1', '--kube-annotation-prefix=a/b/c'], {}, /subnet\/kube: prefix can contain at most single slash/],
      [['--kube-subnet-mgr', '--kubeconfig-file=/nonexistent/kubeconfig'], {}, /fail to create kubernetes config: cannot read kubeconfig \/nonexistent\/kubeconfig/],
      [['--kube-subnet-mgr', '--kube-api-url=http://127.0.0.1:1'], {}, /env variables POD_NAME and POD_NAMESPACE must be set/],
    ];
    for (const [args, env, message] of cases) {
      const result = run('flanneld.js', args, { env });
      assert.equal(result.status, 1, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, message);
    }
  });
  it('an out-of-range renew margin exits 1', () => {
    const result = run('flanneld.js', ['--subnet-lease-renew-margin=0']);
    assert.equal(result.status, 1);
    assert.match(result.stderr, /Invalid subnet-lease-renew-margin option, out of acceptable range/);
  });
});

describe('flanneld start-up checks of address flags', () => {
  for (const [args, message] of [
    [['--etcd-endpoints=http://etcd:99999'], /invalid value \\?"http:\/\/etcd:99999\\?" for --etcd-endpoints/],
    [['--healthz-port=8471', '--healthz-ip=1.2.3.4.5'], /invalid value \\?"1\.2\.3\.4\.5\\?" for --healthz-ip/],
    [['--iface-regex=(?=eth)'], /for --iface-regex: could not compile the regex/],
  ] as Array<[string[], RegExp]>) {
    it(`${args.join(' ')} exits 1 naming the flag and the value`, () => {
      const result = run('flanneld.js', args);
      assert.equal(result.status, 1);
      assert.match(result.stderr, message);
    });
  }
  it('--help documents --overlay-ingress-filter with its FLANNELD_ variable', () => {
    assert.match(run('flanneld.js', ['-h']).stderr, /-overlay-ingress-filter\n.*peers.*\[env FLANNELD_OVERLAY_INGRESS_FILTER\]/);
  });
});

describe('the flannel CNI executable run by hand', () => {
  it('no argument: the version on stderr (as upstream), exit 0', () => {
    const result = run('flannel-cni.js', []);
    assert.equal(result.status, 0);
    assert.match(result.stderr, /^CNI Plugin flannel version \d+\.\d+\.\d+ \(linux\/\w+\)\nCNI protocol versions supported: .*1\.0\.0/);
  });
  it('--version and --help answer on stdout', () => {
    assert.match(run('flannel-cni.js', ['--version']).stdout, /^CNI Plugin flannel version/);
    const help = run('flannel-cni.js', ['--help']);
    assert.equal(help.status, 0);
    assert.match(help.stdout, /^Usage: CNI_COMMAND=ADD\|DEL\|CHECK\|VERSION/);
  });
  it('another argument exits 2 with one line; with CNI_COMMAND arguments are ignored', () => {
    const bad = run('flannel-cni.js', ['bogus']);
    assert.equal(bad.status, 2);
    assert.equal(bad.stderr, `flannel: unexpected argument "bogus": a CNI plugin takes CNI_COMMAND and the network config on stdin (see 'flannel --help')\n`);
    const request = run('flannel-cni.js', ['bogus'], { env: { CNI_COMMAND: 'VERSION' } });
    assert.equal(request.status, 0);
    assert.ok((JSON.parse(request.stdout) as { supportedVersions: string[] }).supportedVersions.includes('1.0.0'));
  });
});

describe('flannelctl failures are one line', () => {
  const cases: Array<[string, string[], number, RegExp]> = [
    ['a missing file', ['config', 'check', '/nonexistent/net-conf.json'], 1, /^flannelctl config check: cannot open \/nonexistent\/net-conf\.json: no such file or directory\n$/],
    ['trace without CAP_NET_ADMIN', ['trace', '10.244.1.2'], 1, /^flannelctl trace: needs root \(CAP_NET_ADMIN\)/],
    ['uninstall without CAP_NET_ADMIN', ['uninstall'], 1, /^flannelctl uninstall: needs root \(CAP_NET_ADMIN\)/],
    ['doctor without CAP_NET_ADMIN', ['doctor'], 1, /^flannelctl doctor: needs root \(CAP_NET_ADMIN\)/],
    ['etcd not there', ['leases', '--etcd-endpoints', 'http://127.0.0.1:9'], 1, /^flannelctl leases: etcd list subnets: no etcd endpoint answered \(http:\/\/127\.0\.0\.1:9: connection refused/m],
  ];
  for (const [name, args, status, pattern] of cases) {
    it(name, () => {
      const result = unprivileged('flannelctl.js', args);
      assert.equal(result.status, status, result.stderr);
      assert.match(result.stderr.replace(/^flannelctl leases: warning: .*\n/gm, ''), pattern);
      assert.doesNotMatch(result.stderr, /\n\s+at |node:internal/);
    });
  }
});

describe('flannelctl config check', () => {
  const dir = mkdtempSync(join(tmpdir(), 'flannelctl-'));
  it('prints the effective config with upstream field names and exits 0', () => {
    const file = join(dir, 'ok.json');
    writeFileSync(file, '{"network":"10.5.0.0/16","backend":{"type":"host-gw"}}');
    const result = run('flannelctl.js', ['config', 'check', file]);
    assert.equal(result.status, 0, result.stderr);
    const config = JSON.parse(result.stdout);
    assert.deepEqual([config.Network, config.SubnetLen, config.SubnetMin, config.SubnetMax, config.BackendType], ['10.5.0.0/16', 24, '10.5.1.0', '10.5.255.0', 'host-gw']);
  });
  it('reads stdin with -, and lists every problem and exits 1', () => {
    const result = run('flannelctl.js', ['config', 'check', '-'], { input: '{"Network":"10.5.0.0/16","SubnetLen":8,"EnableIPv6":true}' });
    assert.equal(result.status, 1);
    assert.match(result.stderr, /3 problems/);
    assert.match(result.stderr, /Backend\.Type: udp carries IPv4 only; EnableIPv6 needs another backend/, 'no Backend means udp, as upstream');
    assert.match(result.stderr, /SubnetLen: 8/);
    assert.match(result.stderr, /IPv6Network/);
  });
  const check = (config: Record<string, unknown>) => run('flannelctl.js', ['config', 'check', '-'], { input: JSON.stringify({ Network: '10.5.0.0/16', ...config }) });
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['a VNI whose device name exceeds 15 characters', { Backend: { Type: 'vxlan', VNI: 16777215 } }, /Backend\.VNI: 16777215 .*flannel\.16777215 \(16 characters\).*at most 15/],
    ['dual stack: the IPv6 device name too', { EnableIPv6: true, IPv6Network: 'fd00::/56', Backend: { Type: 'vxlan', VNI: 10000 } }, /flannel-v6\.10000/],
    ['bad vxlan options, each named', { Backend: { Type: 'vxlan', VNI: 'x', Port: 70000 } }, /Backend\.VNI: .*"x"[\s\S]*Backend\.Port: .*70000/],
    ['a vxlan MTU too small for the device', { Backend: { Type: 'vxlan', MTU: 100 } }, /Backend\.MTU: 100/],
    ['a vxlan MTU too small for IPv6', { EnableIPv6: true, IPv6Network: 'fd00::/56', Backend: { Type: 'vxlan', MTU: 1300 } }, /Backend\.MTU: 1300 .*flannel-v6\.1.*1280/],
    ['a udp Port out of range', { Backend: { Type: 'udp', Port: 70000 } }, /Backend\.Port: expected an integer in 1\.\.65535 .*got 70000/],
    ['SubnetMin above SubnetMax', { SubnetMin: '10.5.200.0', SubnetMax: '10.5.100.0', Backend: { Type: 'host-gw' } }, /SubnetMin: 10\.5\.200\.0 is above SubnetMax/],
  ];
  for (const [name, config, pattern] of cases) {
    it(`rejects ${name}`, () => {
      const result = check(config);
      assert.equal(result.status, 1, result.stdout);
      assert.match(result.stderr, pattern);
    });
  }
  it('accepts the udp backend, with and without a Backend (upstream\u2019s default)', () => {
    assert.equal(check({ Backend: { Type: 'udp', Port: 8286 } }).status, 0);
    const result = check({});
    assert.equal(result.status, 0, result.stderr);
    assert.equal(JSON.parse(result.stdout).BackendType, 'udp');
  });
  it('accepts the largest VNI whose device names fit', () => {
    assert.equal(check({ Backend: { Type: 'vxlan', VNI: 9999999 } }).status, 0);
    assert.equal(check({ EnableIPv6: true, IPv6Network: 'fd00::/56', Backend: { Type: 'vxlan', VNI: 9999 } }).status, 0);
  });
});
