/**
 * docker-opts vs upstream's dist/mk-docker-opts.sh. The golden files below were produced by running upstream's
 * script (flannel HEAD cdf76059, /bin/sh = dash, `env -i PATH=…` plus the listed environment) on the same
 * subnet.env; when upstream's repository is on this machine the last suite runs the script itself and compares.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { MAIN_TABLE, type Route } from '../../src/dataplane/kernel-objects.js';
import { type DockerOptsRequest, parseDockerOptsArgs } from '../../src/docker/docker-opts-args.js';
import { conflictMessage, conflictingRoute, renderDockerOpts } from '../../src/docker/docker-opts.js';
import { Cidr, IpAddress } from '../../src/net/ip.js';
import { FlannelError } from '../../src/support/errors.js';

const SAMPLE = 'FLANNEL_NETWORK=10.1.0.0/16\nFLANNEL_SUBNET=10.1.74.1/24\nFLANNEL_MTU=1472\nFLANNEL_IPMASQ=false\n';
const DUAL = 'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.7.1/24\nFLANNEL_IPV6_NETWORK=fd00:10:244::/56\nFLANNEL_IPV6_SUBNET=fd00:10:244:7::1/64\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n';
const V6_ONLY = 'FLANNEL_IPV6_NETWORK=fd00:10:244::/56\nFLANNEL_IPV6_SUBNET=fd00:10:244:7::1/64\nFLANNEL_MTU=1430\nFLANNEL_IPMASQ=false\n';
const BAD_MASQ = 'FLANNEL_NETWORK=10.1.0.0/16\nFLANNEL_SUBNET=10.1.74.1/24\nFLANNEL_MTU=1472\nFLANNEL_IPMASQ=yes\n';
const ALL_SAMPLE = 'DOCKER_OPT_BIP="--bip=10.1.74.1/24"\nDOCKER_OPT_IPMASQ="--ip-masq=true"\nDOCKER_OPT_MTU="--mtu=1472"\n';

interface GoldenCase {
  readonly name: string;
  readonly subnetEnv: string;
  readonly args: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  readonly output: string;
}

const GOLDEN: readonly GoldenCase[] = [
  { name: 'default: individual and combined', subnetEnv: SAMPLE, args: [], output: `${ALL_SAMPLE}DOCKER_OPTS=" --bip=10.1.74.1/24 --ip-masq=true --mtu=1472"\n` },
  { name: '-i', subnetEnv: SAMPLE, args: ['-i'], output: ALL_SAMPLE },
  { name: '-c', subnetEnv: SAMPLE, args: ['-c'], output: 'DOCKER_OPTS=" --bip=10.1.74.1/24 --ip-masq=true --mtu=1472"\n' },
  { name: '-i -c', subnetEnv: SAMPLE, args: ['-i', '-c'], output: `${ALL_SAMPLE}DOCKER_OPTS=" --bip=10.1.74.1/24 --ip-masq=true --mtu=1472"\n` },
  { name: '-k CUSTOM_KEY', subnetEnv: SAMPLE, args: ['-k', 'CUSTOM_KEY'], output: `${ALL_SAMPLE}CUSTOM_KEY=" --bip=10.1.74.1/24 --ip-masq=true --mtu=1472"\n` },
  { name: '-m', subnetEnv: SAMPLE, args: ['-m'], output: 'DOCKER_OPT_BIP="--bip=10.1.74.1/24"\nDOCKER_OPT_MTU="--mtu=1472"\nDOCKER_OPTS=" --bip=10.1.74.1/24 --mtu=1472"\n' },
  { name: '-c -m', subnetEnv: SAMPLE, args: ['-c', '-m'], output: 'DOCKER_OPTS=" --bip=10.1.74.1/24 --mtu=1472"\n' },
  { name: 'clustered -mi', subnetEnv: SAMPLE, args: ['-mi'], output: 'DOCKER_OPT_BIP="--bip=10.1.74.1/24"\nDOCKER_OPT_MTU="--mtu=1472"\n' },
  { name: 'attached -kKEY (the CentOS unit)', subnetEnv: SAMPLE, args: ['-kDOCKER_NETWORK_OPTIONS', '-c'], output: 'DOCKER_NETWORK_OPTIONS=" --bip=10.1.74.1/24 --ip-masq=true --mtu=1472"\n' },
  { name: 'flannel masquerades: Docker must not', subnetEnv: DUAL, args: [], output: 'DOCKER_OPT_BIP="--bip=10.244.7.1/24"\nDOCKER_OPT_IPMASQ="--ip-masq=false"\nDOCKER_OPT_MTU="--mtu=1450"\nDOCKER_OPTS=" --bip=10.244.7.1/24 --ip-masq=false --mtu=1450"\n' },
  { name: 'IPv6 only: no --bip', subnetEnv: V6_ONLY, args: [], output: 'DOCKER_OPT_IPMASQ="--ip-masq=true"\nDOCKER_OPT_MTU="--mtu=1430"\nDOCKER_OPTS=" --ip-masq=true --mtu=1430"\n' },
  { name: 'a bad FLANNEL_IPMASQ is not looked at with -m', subnetEnv: BAD_MASQ, args: ['-m'], output: 'DOCKER_OPT_BIP="--bip=10.1.74.1/24"\nDOCKER_OPT_MTU="--mtu=1472"\nDOCKER_OPTS=" --bip=10.1.74.1/24 --mtu=1472"\n' },
  { name: "the combined key's value in the environment goes first", subnetEnv: SAMPLE, args: [], env: { DOCKER_OPTS: '--dns=10.0.0.10' },
    output: `${ALL_SAMPLE}DOCKER_OPTS="--dns=10.0.0.10  --bip=10.1.74.1/24 --ip-masq=true --mtu=1472"\n` },
  { name: 'same with -c', subnetEnv: SAMPLE, args: ['-c'], env: { DOCKER_OPTS: '--dns=10.0.0.10' }, output: 'DOCKER_OPTS="--dns=10.0.0.10  --bip=10.1.74.1/24 --ip-masq=true --mtu=1472"\n' },
  { name: "and with -k, that key's value", subnetEnv: SAMPLE, args: ['-k', 'DOCKER_NETWORK_OPTIONS'], env: { DOCKER_NETWORK_OPTIONS: '--iptables=false' },
    output: `${ALL_SAMPLE}DOCKER_NETWORK_OPTIONS="--iptables=false  --bip=10.1.74.1/24 --ip-masq=true --mtu=1472"\n` },
  { name: 'DOCKER_OPT_* in the environment are written too, in name order', subnetEnv: SAMPLE, args: [], env: { DOCKER_OPT_DNS: '--dns=10.0.0.10', DOCKER_OPT_A: '--a' },
    output: 'DOCKER_OPT_A="--a"\nDOCKER_OPT_BIP="--bip=10.1.74.1/24"\nDOCKER_OPT_DNS="--dns=10.0.0.10"\nDOCKER_OPT_IPMASQ="--ip-masq=true"\nDOCKER_OPT_MTU="--mtu=1472"\nDOCKER_OPTS=" --a --bip=10.1.74.1/24 --dns=10.0.0.10 --ip-masq=true --mtu=1472"\n' },
  { name: 'an environment DOCKER_OPT_BIP stays when subnet.env has no FLANNEL_SUBNET', subnetEnv: V6_ONLY, args: [], env: { DOCKER_OPT_BIP: '--bip=1.2.3.4/24' },
    output: 'DOCKER_OPT_BIP="--bip=1.2.3.4/24"\nDOCKER_OPT_IPMASQ="--ip-masq=true"\nDOCKER_OPT_MTU="--mtu=1430"\nDOCKER_OPTS=" --bip=1.2.3.4/24 --ip-masq=true --mtu=1430"\n' },
];

function request(args: readonly string[]): DockerOptsRequest {
  const command = parseDockerOptsArgs(['-f', '/run/flannel/subnet.env', '-d', '/run/docker_opts.env', ...args]);
  assert.ok(!command.help);
  return command.request;
}

describe('docker-opts output matches mk-docker-opts.sh', () => {
  for (const golden of GOLDEN) {
    it(golden.name, () => {
      assert.equal(renderDockerOpts(request(golden.args), golden.subnetEnv, { PATH: '/usr/bin', ...golden.env }).text, golden.output);
    });
  }
  it("a bad FLANNEL_IPMASQ fails with the script's message", () => {
    assert.throws(() => renderDockerOpts(request([]), BAD_MASQ, {}), (error: unknown) => error instanceof FlannelError && error.message === 'Invalid value of FLANNEL_IPMASQ: yes');
  });
});

describe('docker-opts refuses what Docker could not use', () => {
  const cases: Array<[string, string, RegExp]> = [
    ['garbage subnet', 'FLANNEL_SUBNET=10.1.74.1\nFLANNEL_MTU=1450\n', /subnet\.env: FLANNEL_SUBNET="10\.1\.74\.1" is not an IPv4 address\/prefix/],
    ['IPv6 in FLANNEL_SUBNET', 'FLANNEL_SUBNET=fd00::1/64\n', /FLANNEL_SUBNET="fd00::1\/64" is not an IPv4/],
    ['MTU not a number', 'FLANNEL_SUBNET=10.1.74.1/24\nFLANNEL_MTU=1450; rm -rf /\n', /FLANNEL_MTU="1450; rm -rf \/" is not a number of bytes/],
  ];
  for (const [name, text, expected] of cases) {
    it(name, () => assert.throws(() => renderDockerOpts(request([]), text, {}), (error: unknown) => error instanceof FlannelError && error.code === 'BAD_SUBNET_ENV' && expected.test(error.message)));
  }
  it('quotes, backslashes, $ and backquotes from the environment are escaped, so the file still parses', () => {
    const { text } = renderDockerOpts(request(['-i']), 'FLANNEL_MTU=1450\n', { DOCKER_OPT_LABEL: '--label=a"b\\c$d`e' });
    assert.equal(text, 'DOCKER_OPT_LABEL="--label=a\\"b\\\\c\\$d\\`e"\nDOCKER_OPT_MTU="--mtu=1450"\n');
  });
  it('subnet.env overrides the environment, as sourcing it does', () => {
    assert.equal(renderDockerOpts(request(['-c']), SAMPLE, { FLANNEL_MTU: '9000', FLANNEL_SUBNET: '10.9.9.1/24' }).text, 'DOCKER_OPTS=" --bip=10.1.74.1/24 --ip-masq=true --mtu=1472"\n');
  });
});

describe('docker-opts arguments (getopts syntax)', () => {
  const defaults = { subnetFile: '/run/flannel/subnet.env', outputFile: '/run/docker_opts.env', individual: true, combined: true, combinedKey: 'DOCKER_OPTS', ipMasq: true };
  const cases: Array<[readonly string[], Partial<DockerOptsRequest>]> = [
    [[], {}],
    [['-f', '/a', '-d', '/b'], { subnetFile: '/a', outputFile: '/b' }],
    [['-f/a', '-d/b'], { subnetFile: '/a', outputFile: '/b' }],
    [['-i'], { combined: false }],
    [['-c'], { individual: false }],
    [['-cmk', 'K'], { individual: false, ipMasq: false, combinedKey: 'K' }],
    [['-m', '--'], { ipMasq: false }],
  ];
  for (const [argv, expected] of cases) {
    it(JSON.stringify(argv), () => assert.deepEqual(parseDockerOptsArgs(argv), { help: false, request: { ...defaults, ...expected } }));
  }
  for (const argv of [['-h'], ['-?'], ['--help'], ['-i', '-h']]) {
    it(`${argv.join(' ')} asks for help`, () => assert.deepEqual(parseDockerOptsArgs(argv), { help: true }));
  }
  const errors: Array<[readonly string[], RegExp]> = [
    [['-x'], /unknown option -x/],
    [['-f'], /option -f needs an argument/],
    [['extra'], /unexpected argument "extra"/],
    [['-c', '--', 'extra'], /unexpected argument "extra"/],
    [['--bip=1'], /unknown option --/],
    [['-k', 'A B'], /-k "A B": want a variable name/],
    [['-k', 'X;rm -rf /'], /want a variable name/],
    [['-f', ''], /-f and -d need a file name/],
  ];
  for (const [argv, expected] of errors) {
    it(`${JSON.stringify(argv)} is a usage error`, () => {
      assert.throws(() => parseDockerOptsArgs(argv), (error: unknown) => error instanceof FlannelError && error.code === 'BAD_USAGE' && expected.test(error.message));
    });
  }
});

describe("the script's routing-table check", () => {
  const route = (dst: string, gateway?: string, table = MAIN_TABLE): Route => ({
    dst: Cidr.parse(dst), table, protocol: 3, type: 'unicast', onlink: false, linkIndex: 2, ...(gateway ? { gateway: IpAddress.parse(gateway) } : {}),
  });
  const network = { bridgeAddress: Cidr.parse('10.1.74.1/24') };
  it('a main-table route to our subnet through a gateway conflicts, with the script message', () => {
    const found = conflictingRoute(network, [route('10.1.0.0/16', '198.18.0.1'), route('10.1.74.0/24', '198.18.0.1')]);
    assert.ok(found);
    assert.equal(conflictMessage(found, (index) => (index === 2 ? 'eth0' : undefined)), 'Your routing table already contains the subnet: 10.1.74.0/24 via 198.18.0.1 dev eth0');
  });
  it('a device route, another table, another subnet, or no IPv4 subnet do not', () => {
    const routes = [route('10.1.74.0/24'), route('10.1.74.0/24', '198.18.0.1', 100), route('110.1.74.0/24', '198.18.0.1'), route('10.1.74.0/25', '198.18.0.1')];
    assert.equal(conflictingRoute(network, routes), undefined);
    assert.equal(conflictingRoute({}, [route('10.1.74.0/24', '198.18.0.1')]), undefined);
  });
});

describe('flannelctl docker-opts', () => {
  const dir = mkdtempSync(join(tmpdir(), 'docker-opts-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const flannelctl = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', 'src', 'cmd', 'flannelctl.js');
  const run = (args: string[], env: Record<string, string> = {}) =>
    spawnSync(process.execPath, [flannelctl, 'docker-opts', ...args], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '', ...env }, timeout: 20_000 });

  it('writes the file (creating its directory) and exits 0', () => {
    writeFileSync(join(dir, 'subnet.env'), SAMPLE);
    const out = join(dir, 'run', 'flannel', 'docker');
    const result = run(['-f', join(dir, 'subnet.env'), '-d', out, '-k', 'DOCKER_NETWORK_OPTIONS']);
    assert.equal(result.status, 0, result.stderr);
    assert.equal(readFileSync(out, 'utf8'), `${ALL_SAMPLE}DOCKER_NETWORK_OPTIONS=" --bip=10.1.74.1/24 --ip-masq=true --mtu=1472"\n`);
  });
  it('a missing subnet.env is an error that says what to check, and writes nothing', () => {
    const out = join(dir, 'none.env');
    const result = run(['-f', join(dir, 'absent.env'), '-d', out]);
    assert.equal(result.status, 1);
    assert.match(result.stderr, /absent\.env does not exist: flanneld writes it once it holds a subnet lease/);
    assert.equal(existsSync(out), false);
  });
  it('bad usage exits 2 with one line naming it; -h and --help exit 0', () => {
    const bad = run(['-z']);
    assert.equal(bad.status, 2);
    assert.equal(bad.stderr, "flannelctl docker-opts: unknown option -z (see 'flannelctl docker-opts --help')\n");
    assert.match(run(['--help']).stdout, /^Usage: flannelctl docker-opts/);
    const help = run(['-h']);
    assert.equal(help.status, 0);
    assert.match(help.stdout, /^Usage: flannelctl docker-opts/);
  });
  it('an invalid FLANNEL_IPMASQ exits 1 with one line', () => {
    writeFileSync(join(dir, 'bad.env'), BAD_MASQ);
    const result = run(['-f', join(dir, 'bad.env'), '-d', join(dir, 'bad.out')]);
    assert.equal(result.status, 1);
    assert.equal(result.stderr, 'docker-opts: Invalid value of FLANNEL_IPMASQ: yes\n');
  });
});

describe("against upstream's script itself (when its repository is on this machine)", () => {
  const upstreamRepo = '/work/.mirror/flannel-io+flannel/repo';
  const available = existsSync(upstreamRepo) && spawnSync('git', ['--git-dir', upstreamRepo, 'cat-file', '-e', 'HEAD:dist/mk-docker-opts.sh']).status === 0;
  const dir = mkdtempSync(join(tmpdir(), 'mk-docker-opts-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  for (const golden of GOLDEN) {
    it(golden.name, { skip: available ? false : `no upstream repository at ${upstreamRepo}` }, () => {
      const script = join(dir, 'mk-docker-opts.sh');
      if (!existsSync(script)) {
        writeFileSync(script, spawnSync('git', ['--git-dir', upstreamRepo, 'show', 'HEAD:dist/mk-docker-opts.sh'], { encoding: 'utf8' }).stdout, { mode: 0o755 });
      }
      const input = join(dir, 'subnet.env');
      const output = join(dir, 'docker.env');
      writeFileSync(input, golden.subnetEnv);
      rmSync(output, { force: true });
      const result = spawnSync('/bin/sh', [script, '-f', input, '-d', output, ...golden.args], { encoding: 'utf8', env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', ...golden.env } });
      assert.equal(result.status, 0, result.stderr);
      assert.equal(readFileSync(output, 'utf8'), golden.output);
    });
  }
});
