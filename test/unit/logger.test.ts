/** The text log format: klog-style lines rendered from pino records, one line per record whatever the input. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { parseFlags, toDaemonOptions } from '../../src/config/daemon-options.js';
import { klogStream, klogTime, renderKlogLine } from '../../src/support/logger.js';

// 2026-11-22T03:55:44.974425Z
const TIME = Date.UTC(2026, 10, 22, 3, 55, 44, 974) + 0.425;
const utc = () => 0;

describe('klog-style text lines', () => {
  const cases: Array<[string, Record<string, unknown>, string]> = [
    ['info with fields, strings quoted, numbers and booleans bare',
      { level: 30, time: TIME, pid: 4242, name: 'flanneld', msg: 'flannel is ready', subnet: '10.244.7.0/24', mtu: 1450, ipMasq: true },
      'I1122 03:55:44.974425    4242 flanneld] "flannel is ready" subnet="10.244.7.0/24" mtu=1450 ipMasq=true'],
    ['the component of a child logger names the source',
      { level: 40, time: TIME, pid: 7, name: 'flanneld', component: 'reconciler', msg: 'apply failed', failures: 2 },
      'W1122 03:55:44.974425       7 reconciler] "apply failed" failures=2'],
    ['error and fatal severities',
      { level: 50, time: TIME, pid: 1, msg: 'x' }, 'E1122 03:55:44.974425       1 flanneld] "x"'],
    ['fatal', { level: 60, time: TIME, pid: 1, msg: 'x' }, 'F1122 03:55:44.974425       1 flanneld] "x"'],
    ['debug and trace render as I (klog V(n) lines are info lines)',
      { level: 20, time: TIME, pid: 1, msg: 'leases', kind: 'snapshot' }, 'I1122 03:55:44.974425       1 flanneld] "leases" kind="snapshot"'],
    ['hostile text stays on one line: newlines and escapes are quoted',
      { level: 40, time: TIME, pid: 1, msg: 'ignoring malformed lease', key: '/coreos.com/network/subnets/x\n\u001b[31mI1122 fake] "line"', reason: 'bad "json"' },
      'W1122 03:55:44.974425       1 flanneld] "ignoring malformed lease" key="/coreos.com/network/subnets/x\\n\\u001b[31mI1122 fake] \\"line\\"" reason="bad \\"json\\""'],
    ['a non-constant message is quoted too',
      { level: 60, time: TIME, pid: 1, msg: 'cannot read\nfile' }, 'F1122 03:55:44.974425       1 flanneld] "cannot read\\nfile"'],
    ['objects and arrays as JSON, an Error as its message only (no stack)',
      { level: 30, time: TIME, pid: 1, msg: 'm', flags: { 'ip-masq': true, iface: ['eth0'] }, err: { type: 'Error', message: 'boom', stack: 'Error: boom\n    at x' } },
      'I1122 03:55:44.974425       1 flanneld] "m" flags={"ip-masq":true,"iface":["eth0"]} err="boom"'],
    ['null fields print, undefined ones do not; odd keys are quoted',
      { level: 30, time: TIME, pid: 1, msg: 'm', a: null, b: undefined, 'a b=c': 1 }, 'I1122 03:55:44.974425       1 flanneld] "m" a=null "a b=c"=1'],
  ];
  for (const [name, record, expected] of cases) {
    it(name, () => assert.equal(renderKlogLine(record, utc), expected));
  }

  it('renders the local time of the given offset, across a day boundary', () => {
    assert.equal(klogTime(TIME, 0), '1122 03:55:44.974425');
    assert.equal(klogTime(TIME, 60), '1122 04:55:44.974425');
    assert.equal(klogTime(TIME, -240), '1121 23:55:44.974425');
    assert.equal(klogTime(Date.UTC(2026, 0, 1), 0), '0101 00:00:00.000000');
    assert.equal(klogTime(Date.UTC(2026, 0, 1) + 999.9998, 0), '0101 00:00:00.999999');
  });

  it('a pino logger writing through klogStream gives one line per record, children included', () => {
    const lines: string[] = [];
    const logger = pino({ name: 'flanneld', base: { pid: 99 }, timestamp: () => `,"time":${TIME}` }, klogStream((line) => lines.push(line), utc));
    logger.info({ subnet: '10.244.7.0/24' }, 'flannel is ready');
    logger.child({ component: 'firewall' }).warn({ mode: 'iptables' }, 'fully random masquerade unsupported; using plain masquerade');
    assert.deepEqual(lines, [
      'I1122 03:55:44.974425      99 flanneld] "flannel is ready" subnet="10.244.7.0/24"\n',
      'W1122 03:55:44.974425      99 firewall] "fully random masquerade unsupported; using plain masquerade" mode="iptables"\n',
    ]);
  });
});

describe('--logging-format', () => {
  it('defaults to text, takes json, also as FLANNELD_LOGGING_FORMAT, and rejects anything else', () => {
    assert.equal(toDaemonOptions(parseFlags([], {})).options.loggingFormat, 'text');
    assert.equal(toDaemonOptions(parseFlags(['--logging-format=json'], {})).options.loggingFormat, 'json');
    assert.equal(toDaemonOptions(parseFlags([], { FLANNELD_LOGGING_FORMAT: 'json' })).options.loggingFormat, 'json');
    assert.throws(() => toDaemonOptions(parseFlags(['--logging-format=xml'], {})), /invalid --logging-format "xml": want text or json/);
  });

  const flanneld = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', 'src', 'cmd', 'flanneld.js');
  const run = (args: string[]) => spawnSync(process.execPath, [flanneld, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '', TZ: 'UTC' }, timeout: 20_000 });
  it('flanneld logs klog lines by default and JSON on request', () => {
    const text = run(['--subnet-lease-renew-margin=0']);
    assert.equal(text.status, 1);
    assert.match(text.stderr, /^F\d{4} \d\d:\d\d:\d\d\.\d{6} +\d+ flanneld\] "Invalid subnet-lease-renew-margin option, out of acceptable range: 0 \(want 1\.\.1439 minutes\)"\n$/);
    const json = run(['--subnet-lease-renew-margin=0', '--logging-format=json']);
    assert.equal(json.status, 1);
    const record = JSON.parse(json.stderr) as { level: number; msg: string; time: number };
    assert.equal(record.level, 60);
    assert.match(record.msg, /^Invalid subnet-lease-renew-margin/);
    assert.ok(Number.isInteger(record.time));
  });
  it('a bad --logging-format is a fatal error, logged as text', () => {
    const result = run(['--logging-format=yaml']);
    assert.equal(result.status, 1);
    assert.match(result.stderr, /^F.* flanneld\] "invalid --logging-format \\"yaml\\": want text or json"\n$/);
  });
});
