import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileGoRegexp } from '../../src/config/go-regexp.js';

describe('Go (RE2) regular expressions in JavaScript', () => {
  // [pattern, matches, does not match]: the meaning Go's regexp gives them.
  const table: Array<[string, string[], string[]]> = [
    ['192\\.168\\.200\\.\\d+', ['192.168.200.128'], ['192.168.201.1', '1921682001']],
    ['dummy\\d+', ['dummy0'], ['dummy']],
    ['(\\d+\\.){3}\\d+', ['10.0.0.1'], ['eth0']],
    ['\\Aeth0\\z', ['eth0'], ['Aeth0z', 'xeth0', 'eth0\n']],
    ['(?i)ETH\\d', ['eth0'], ['lo']],
    ['(?i)(?s)a.b', ['A\nB'], ['ab']],
    ['^[[:digit:]]+$', ['123'], ['12a', ':']],
    ['^[[:^digit:]]+$', ['abc'], ['a1']],
    ['^[[:alpha:][:digit:]_]+$', ['eth_0'], ['eth-0']],
    ['[]a]', [']', 'a'], ['b']],
    ['[^]a]', ['b'], [']', 'a']],
    ['\\Q1.2.3\\E', ['1.2.3'], ['1x2x3']],
    ['\\Qa+b', ['a+b'], ['aab']],
    ['(?P<first>\\d+)\\.', ['10.'], ['x.']],
    ['(?<first>\\d+)\\.', ['10.'], ['x.']],
    ['^\\x41\\x{42}\\101$', ['ABA'], ['AB']],
    ['^\\0$', ['\0'], ['0']],
    ['a{2}', ['aa'], ['a']],
    ['a{,2}', ['a{,2}'], ['aa']],
    ['x{', ['x{'], ['x']],
    ['^\\-\\/\\:$', ['-/:'], ['x']],
    ['fe80:.*', ['fe80::1'], ['2001:db8::1']],
    ['a*?b', ['aab'], ['a']],
    ['', ['anything'], []],
  ];
  for (const [pattern, yes, no] of table) {
    it(`${JSON.stringify(pattern)} means what it means in Go`, () => {
      const regex = compileGoRegexp(pattern);
      for (const text of yes) assert.ok(regex.test(text), `${pattern} should match ${JSON.stringify(text)} (as ${regex})`);
      for (const text of no) assert.ok(!regex.test(text), `${pattern} should not match ${JSON.stringify(text)} (as ${regex})`);
    });
  }

  // [pattern, reason]: refused by Go, or valid Go that this translation refuses rather than get wrong.
  const refused: Array<[string, RegExp]> = [
    ['(', /missing closing \)/],
    [')', /unexpected \)/],
    ['[a', /missing closing \]/],
    ['a**', /nested repetition operator/],
    ['a*??', /nested repetition operator/],
    ['a{1001}', /invalid repeat count/],
    ['a{3,2}', /invalid repeat count/],
    ['(?=x)', /lookaround/],
    ['(?<!x)y', /lookaround/],
    ['(a)\\1', /backreference/],
    ['\\k<x>', /invalid escape sequence \\k/],
    ['\\', /trailing backslash/],
    ['[\\b]', /invalid escape sequence \\b/],
    ['[[:foo:]]', /invalid character class \[:foo:\]/],
    ['\\pL', /Unicode classes/],
    ['a(?i)b', /only at the start/],
    ['(?i:a)', /only at the start/],
    ['(?U)a+', /ungreedy/],
    ['(?z)', /invalid flag group/],
    ['(\\d*)*x', /nested unbounded repetition/],
    ['([0-9a-f:]+)+z', /nested unbounded repetition/],
    ['*a', /Nothing to repeat/],
    ['\\x{1F600}', /above U\+FFFF/],
  ];
  for (const [pattern, reason] of refused) {
    it(`refuses ${JSON.stringify(pattern)}`, () => {
      assert.throws(() => compileGoRegexp(pattern), (error: Error & { code?: string }) => error.code === 'BAD_REGEX' && reason.test(error.message));
    });
  }
});
