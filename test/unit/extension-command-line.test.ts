import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { expandCommand, goExpand, goFields } from '../../src/backend/extension/go-command-line.js';

const ENV: Record<string, string> = { A: 'alpha', B_2: 'beta', SUBNET: '10.244.2.0/24', $: 'dollar', 1: 'one', '?': 'q', '-': 'dash', 'X Y': 'space', 'A:-x': 'weird', EMPTY: '' };

/** [input, output] printed by Go 1.19's os.Expand with the map above (missing keys → ""). */
const GO_EXPAND: ReadonlyArray<[string, string]> = [
  ['', ''], ['plain', 'plain'], ['$A', 'alpha'], ['${A}', 'alpha'], ['$A$B_2', 'alphabeta'], ['${A}x', 'alphax'], ['$Ax', ''],
  ['$$', 'dollar'], ['$', '$'], ['a$', 'a$'], ['${}', ''], ['${', ''], ['${A', 'A'], ['$1', 'one'], ['$12', 'one2'], ['${12}', ''],
  ['${1}', 'one'], ['$?', 'q'], ['$-', 'dash'], ['$*', ''], ['$@', ''], ['$#', ''], ['$!', ''], ['${?}', 'q'], ['${!}x', 'x'],
  ['$ A', '$ A'], ['$/', '$/'], ['$.x', '$.x'], ['${A:-x}', 'weird'], ['${X Y}', 'space'], ['pre${SUBNET}post', 'pre10.244.2.0/24post'],
  ['$UNSET-x', '-x'], ['${EMPTY}|', '|'], ['$é', '$é'], ['${é}', ''], ['$$A', 'dollarA'], ['$${A}', 'dollar{A}'], ['${${A}}', '}'],
  ['$}', '$}'], ['${}A', 'A'], ['${A}}', 'alpha}'], ['x$$$', 'xdollar$'], ['é$Aé', 'éalphaé'],
];

/** [input, fields] printed by Go 1.19's strings.Fields. */
const GO_FIELDS: ReadonlyArray<[string, string[]]> = [
  ['a b', ['a', 'b']], ['  a\tb\n c  ', ['a', 'b', 'c']], ['a\u00a0b', ['a', 'b']], ['a\u0085b', ['a', 'b']], ['a\ufeffb', ['a\ufeffb']],
  ['a\u2003b', ['a', 'b']], ['a\u200bb', ['a\u200bb']], ['a\u3000b', ['a', 'b']], ['a\vb\fc\rd', ['a', 'b', 'c', 'd']], ["'a b'", ["'a", "b'"]],
  ['', []], ['   ', []], ['a\u180eb', ['a\u180eb']], ['a\u2028b', ['a', 'b']],
];

describe('extension command line (Go semantics)', () => {
  it('os.Expand: $VAR, ${VAR}, special names, and the broken forms ($$, ${}, $1, unterminated ${)', () => {
    for (const [input, expected] of GO_EXPAND) assert.equal(goExpand(input, (name) => ENV[name] ?? ''), expected, JSON.stringify(input));
  });
  it('strings.Fields splits on exactly Go\'s white space (U+0085 yes, U+FEFF and U+200B no)', () => {
    for (const [input, expected] of GO_FIELDS) assert.deepEqual(goFields(input), expected, JSON.stringify(input));
  });
  it('splits first and expands each field: quotes stay literal, a value with spaces stays one argument', () => {
    const variables = { SUBNET: '10.244.2.0/24', PUBLIC_IP: '198.18.0.12', EVIL: 'x; rm -rf / $(id)' };
    assert.deepEqual(expandCommand('ip route add $SUBNET via ${PUBLIC_IP}', variables), ['ip', 'route', 'add', '10.244.2.0/24', 'via', '198.18.0.12']);
    assert.deepEqual(expandCommand(`sh -c 'echo $EVIL'`, variables), ['sh', "-c", "'echo", "x; rm -rf / $(id)'"]);
    assert.deepEqual(expandCommand('$PROGRAM arg', { PROGRAM: '/usr/bin/env' }), ['/usr/bin/env', 'arg'], 'the program is expanded too');
    assert.deepEqual(expandCommand('echo $constructor ${__proto__} $toString', {}), ['echo', '', '', ''], 'no prototype lookups');
  });
});
