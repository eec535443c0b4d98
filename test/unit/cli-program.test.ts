/**
 * The subcommand dispatcher (cli.ts) on a stub program, and every real flannelctl subcommand's --help,
 * --version and usage errors, in process: none of these may run the command.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type CommandSpec, type Program, UsageError, runProgram } from '../../src/cmd/cli.js';
import { describeFailure } from '../../src/cmd/failure-text.js';
import { FLANNELCTL } from '../../src/cmd/flannelctl-program.js';
import { FlannelError } from '../../src/support/errors.js';

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

async function invoke(program: Program, argv: string[], options: { netAdmin?: boolean; env?: Record<string, string> } = {}): Promise<Outcome> {
  let stdout = '';
  let stderr = '';
  const code = await runProgram(program, argv, {
    stdout: (text) => (stdout += text), stderr: (text) => (stderr += text), env: options.env ?? {}, hasNetAdmin: () => options.netAdmin ?? true,
  });
  return { code, stdout, stderr };
}

/** A program whose commands record their runs and fail on demand. */
function stubProgram(runs: string[], failure?: unknown): Program {
  const command = (path: string[], extra: Partial<CommandSpec> = {}): CommandSpec => ({
    path, summary: `the ${path.join(' ')} command`, options: { json: { type: 'boolean', help: 'json' } },
    run: ({ values }) => {
      runs.push(`${path.join(' ')} json=${String(values.json)}`);
      if (failure !== undefined) throw failure;
      return 0;
    },
    ...extra,
  });
  return {
    name: 'tool', version: '9.8.7', groups: { grp: 'A group.' },
    commands: [
      command(['one']),
      command(['grp', 'a']),
      command(['grp', 'b']),
      command(['root'], { needsNetAdmin: true, validate: ({ values }) => { if (values.json) throw new UsageError('no json here'); } }),
    ],
  };
}

describe('runProgram', () => {
  const cases: Array<[string, string[], number, RegExp | '', RegExp | '', string[]]> = [
    ['no command: usage on stderr', [], 2, '', /^Usage: tool COMMAND/, []],
    ['--help: usage on stdout', ['--help'], 0, /^Usage: tool COMMAND[\s\S]*tool grp a \[OPTIONS\]/, '', []],
    ['help', ['help'], 0, /^Usage: tool COMMAND/, '', []],
    ['--version', ['--version'], 0, /^9\.8\.7\n$/, '', []],
    ['a command runs', ['one', '--json'], 0, '', '', ['one json=true']],
    ['a command --help does not run it', ['one', '--help'], 0, /^Usage: tool one \[OPTIONS\]\n\nthe one command\n\nOptions:\n {6}--json/, '', []],
    ['help COMMAND', ['help', 'grp', 'b'], 0, /^Usage: tool grp b/, '', []],
    ['a command --version does not run it', ['grp', 'a', '--version'], 0, /^9\.8\.7\n$/, '', []],
    ['an unknown option', ['one', '--bogus'], 2, '', /^tool one: unknown option --bogus \(see 'tool one --help'\)\n$/, []],
    ['a stray argument', ['grp', 'a', 'extra'], 2, '', /^tool grp a: unexpected argument "extra" \(see 'tool grp a --help'\)\n$/, []],
    ['a group without its command', ['grp'], 2, '', /^tool grp: missing command, one of: a, b \(see 'tool grp --help'\)\n$/, []],
    ['a group --help', ['grp', '--help'], 0, /^Usage: tool grp COMMAND[\s\S]*tool grp a[\s\S]*tool grp b/, '', []],
    ['an unknown group member', ['grp', 'z'], 2, '', /^tool grp: unknown command "z", expected one of: a, b/, []],
    ['an unknown command', ['nope'], 2, '', /^tool: unknown command "nope" \(see 'tool --help'\)\n$/, []],
    ['validation comes before the privilege check', ['root', '--json'], 2, '', /^tool root: no json here \(see 'tool root --help'\)\n$/, []],
  ];
  for (const [name, argv, code, stdout, stderr, runs] of cases) {
    it(name, async () => {
      const ran: string[] = [];
      const outcome = await invoke(stubProgram(ran), argv);
      assert.equal(outcome.code, code, JSON.stringify(outcome));
      if (stdout === '') assert.equal(outcome.stdout, '');
      else assert.match(outcome.stdout, stdout);
      if (stderr === '') assert.equal(outcome.stderr, '');
      else assert.match(outcome.stderr, stderr);
      assert.deepEqual(ran, runs);
    });
  }

  it('a command needing CAP_NET_ADMIN is refused without it, before it runs', async () => {
    const ran: string[] = [];
    const outcome = await invoke(stubProgram(ran), ['root'], { netAdmin: false });
    assert.equal(outcome.code, 1);
    assert.match(outcome.stderr, /^tool root: needs root \(CAP_NET_ADMIN\)/);
    assert.deepEqual(ran, []);
  });

  const failures: Array<[string, unknown, number, RegExp]> = [
    ['a UsageError from run', new UsageError('bad combination'), 2, /^tool one: bad combination \(see 'tool one --help'\)\n$/],
    ['an Error: its message, no stack', new FlannelError('ETCD_TLS', 'etcd: https://x:2379: etcd did not answer the TLS handshake'), 1, /^tool one: etcd: https:\/\/x:2379: etcd did not answer the TLS handshake\n$/],
    ['a multi-line message becomes one line', new Error('first\n  second\n'), 1, /^tool one: first; second\n$/],
    ['not an Error', 'a string', 1, /^tool one: a string\n$/],
  ];
  for (const [name, failure, code, stderr] of failures) {
    it(name, async () => {
      const outcome = await invoke(stubProgram([], failure), ['one']);
      assert.equal(outcome.code, code);
      assert.match(outcome.stderr, stderr);
      assert.doesNotMatch(outcome.stderr, /\n\s+at /);
    });
  }
});

describe('describeFailure', () => {
  const system = (code: string, syscall: string, path: string, text: string) =>
    Object.assign(new Error(`${code}: ${text}, ${syscall} '${path}'`), { code, syscall, path, errno: -1 });
  const cases: Array<[unknown, string]> = [
    [system('ENOENT', 'open', '/etc/x.json', 'no such file or directory'), 'cannot open /etc/x.json: no such file or directory'],
    [system('EACCES', 'open', '/run/flannel/subnet.env', 'permission denied'), 'cannot open /run/flannel/subnet.env: permission denied (are you root?)'],
    [system('EISDIR', 'read', '/tmp', 'illegal operation on a directory'), 'cannot read /tmp: illegal operation on a directory'],
    [new FlannelError('EPERM', 'setsockopt 1/33: operation not permitted'), 'setsockopt 1/33: operation not permitted (are you root?)'],
    [new Error(''), 'Error'],
  ];
  for (const [error, text] of cases) it(text, () => assert.equal(describeFailure(error), text));
});

describe('every flannelctl subcommand', () => {
  for (const command of FLANNELCTL.commands) {
    const words = [...command.path];
    it(`${words.join(' ')}: --help prints its usage to stdout and runs nothing`, async () => {
      const outcome = await invoke(FLANNELCTL, [...words, '--help'], { netAdmin: false });
      assert.equal(outcome.code, 0, outcome.stderr);
      assert.match(outcome.stdout, new RegExp(`^Usage: flannelctl ${words.join(' ')}`));
      assert.equal(outcome.stderr, '');
    });
    it(`${words.join(' ')}: --version prints the version`, async () => {
      const outcome = await invoke(FLANNELCTL, [...words, '--version'], { netAdmin: false });
      assert.deepEqual(outcome, { code: 0, stdout: `${FLANNELCTL.version}\n`, stderr: '' });
    });
    it(`${words.join(' ')}: an unknown option exits 2 with one line`, async () => {
      const outcome = await invoke(FLANNELCTL, [...words, '--no-such-option'], { netAdmin: false });
      assert.equal(outcome.code, 2);
      assert.match(outcome.stderr, new RegExp(`^flannelctl ${words.join(' ')}: unknown option --no-such-option.*\\(see 'flannelctl ${words.join(' ')} --help'\\)\\n$`));
    });
    if ((command.arguments?.max ?? 0) === 0) {
      it(`${words.join(' ')}: a stray argument exits 2 with one line`, async () => {
        const outcome = await invoke(FLANNELCTL, [...words, 'stray'], { netAdmin: false });
        assert.equal(outcome.code, 2);
        assert.match(outcome.stderr, /^flannelctl .*: unexpected argument "stray" \(see '.*--help'\)\n$/);
      });
    }
  }
});
