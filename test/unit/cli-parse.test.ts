/** The shared command-line parser of flannelctl's subcommands (cli-parse.ts): table-driven, in process. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type ArgumentSpec, type OptionSpecs, UsageError, countValue, parseCommandLine } from '../../src/cmd/cli-parse.js';

const OPTIONS: OptionSpecs = {
  socket: { type: 'string', default: '/run/s.sock', help: 'socket' },
  json: { type: 'boolean', help: 'json' },
  'etcd-prefix': { type: 'string', default: '/coreos.com/network', env: 'FLANNELD_ETCD_PREFIX', help: 'prefix' },
  iface: { type: 'string', multiple: true, help: 'repeatable' },
  quiet: { type: 'boolean', short: 'q', help: 'short' },
};
const ONE: ArgumentSpec = { synopsis: 'DST', min: 1, max: 1 };

describe('parseCommandLine', () => {
  const runs: Array<[string, string[], ArgumentSpec | undefined, Record<string, string>, Record<string, unknown>, string[]]> = [
    ['defaults', [], undefined, {}, { socket: '/run/s.sock', json: false, 'etcd-prefix': '/coreos.com/network', quiet: false }, []],
    ['a value, a switch, a short switch', ['--socket', '/x', '--json', '-q'], undefined, {}, { socket: '/x', json: true, quiet: true }, []],
    ['--name=value', ['--socket=/y'], undefined, {}, { socket: '/y' }, []],
    ['a dash-led value written inline', ['--socket=--json'], undefined, {}, { socket: '--json', json: false }, []],
    ["'-' is a value", ['--socket', '-'], undefined, {}, { socket: '-' }, []],
    ['the environment supplies an option not given', [], undefined, { FLANNELD_ETCD_PREFIX: '/env' }, { 'etcd-prefix': '/env' }, []],
    ['the command line beats the environment', ['--etcd-prefix', '/cli'], undefined, { FLANNELD_ETCD_PREFIX: '/env' }, { 'etcd-prefix': '/cli' }, []],
    ['an empty variable counts as unset (FLANNELD_* convention)', [], undefined, { FLANNELD_ETCD_PREFIX: '' }, { 'etcd-prefix': '/coreos.com/network' }, []],
    ["flanneld's single-dash long options", ['-etcd-prefix=/go', '-json'], undefined, {}, { 'etcd-prefix': '/go', json: true }, []],
    ['a repeatable option collects', ['--iface', 'a', '--iface=b'], undefined, {}, { iface: ['a', 'b'] }, []],
    ['one argument', ['10.1.2.3'], ONE, {}, {}, ['10.1.2.3']],
    ['after --, everything is an argument', ['--', '--help'], ONE, {}, {}, ['--help']],
  ];
  for (const [name, argv, args, env, values, positionals] of runs) {
    it(name, () => {
      const line = parseCommandLine(OPTIONS, args, argv, env);
      assert.equal(line.kind, 'run');
      if (line.kind !== 'run') return;
      for (const [key, value] of Object.entries(values)) assert.deepEqual(line.values[key], value, key);
      assert.deepEqual(line.positionals, positionals);
    });
  }

  const answers: Array<[string[], 'help' | 'version']> = [
    [['--help'], 'help'], [['-h'], 'help'], [['-qh'], 'help'], [['--bogus', 'extra', '--help'], 'help'],
    [['--socket', '--help'], 'help'], [['--version'], 'version'], [['--json', '--version', 'extra'], 'version'],
  ];
  for (const [argv, kind] of answers) {
    it(`${argv.join(' ')} asks for ${kind}; nothing else is checked`, () => assert.equal(parseCommandLine(OPTIONS, undefined, argv).kind, kind));
  }

  const mistakes: Array<[string[], ArgumentSpec | undefined, RegExp]> = [
    [['--bogus'], undefined, /^unknown option --bogus$/],
    [['-x'], undefined, /^unknown option -x$/],
    [['-qx'], undefined, /^unknown option -x$/],
    [['--json=1'], undefined, /^--json takes no value \(got "--json=1"\)$/],
    [['--socket'], undefined, /^--socket needs a value$/],
    [['--socket', '--json'], undefined, /^--socket needs a value, got the option --json \(write --socket=--json if that is the value\)$/],
    [['extra'], undefined, /^unexpected argument "extra"$/],
    [['a', 'b'], ONE, /^too many arguments: "b" \(expected DST\)$/],
    [[], ONE, /^missing argument DST$/],
    [['--Socket=/x'], undefined, /^unknown option --Socket$/],
    [['--constructor'], undefined, /^unknown option --constructor$/],
  ];
  for (const [argv, args, pattern] of mistakes) {
    it(`${JSON.stringify(argv)} is a usage error`, () => {
      assert.throws(() => parseCommandLine(OPTIONS, args, argv), (error: unknown) => error instanceof UsageError && pattern.test(error.message));
    });
  }
});

describe('countValue', () => {
  for (const [text, ok] of [['0', true], ['64', true], ['x', false], ['-1', false], ['1e3', false], ['', false], ['201', false]] as const) {
    it(`${JSON.stringify(text)} ${ok ? 'is' : 'is not'} a count up to 200`, () => {
      const read = () => countValue({ n: text }, 'n', { max: 200 });
      if (ok) assert.equal(read(), Number(text));
      else assert.throws(read, (error: unknown) => error instanceof UsageError && error.message.includes(`--n: expected a whole number from 0 to 200, got ${JSON.stringify(text)}`));
    });
  }
});
