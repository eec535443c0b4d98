/**
 * How upstream's extension backend turns a configured command string into argv (reference §5.8, CODE≠DOC: the
 * docs say "run through the sh shell", the code does not): `strings.Fields` splits on Unicode white space —
 * no quoting, quotes stay literal — then each field goes through Go's `os.Expand` with a lookup map. The
 * results are passed to the program as they are, so shell metacharacters in a value are inert.
 *
 * Both functions reproduce Go's edge cases exactly (vectors in the unit test were printed by Go's own
 * os.Expand and strings.Fields): `$$`, `$1`, `$?`… are one-character special names; `${}` and an unterminated
 * `${` are eaten; a `$` not followed by a name, or at the end, stays; `${…}` takes everything up to the first
 * `}` as the name; a missing variable expands to "". Pure.
 */

/** Go's unicode.IsSpace: Latin-1 spaces (incl. U+0085 NEL, U+00A0) and the White_Space property above it. */
const GO_SPACE = /[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/u;

/** strings.Fields: the non-empty runs between white space. */
export function goFields(text: string): string[] {
  return text.split(GO_SPACE).filter((field) => field !== '');
}

const SPECIAL = '*#$@!?-0123456789';
const isAlphaNum = (char: string): boolean => /^[A-Za-z0-9_]$/.test(char);

/** os.Expand(text, lookup). */
export function goExpand(text: string, lookup: (name: string) => string): string {
  let out = '';
  let literalStart = 0;
  for (let index = 0; index < text.length; index++) {
    if (text[index] !== '$' || index + 1 >= text.length) continue;
    out += text.slice(literalStart, index);
    const [name, width] = shellName(text.slice(index + 1));
    if (name === '' && width > 0) {
      // Invalid syntax (`${}`, unterminated `${`): Go eats it.
    } else if (name === '') {
      out += '$'; // `$` not followed by a name stays
    } else {
      out += lookup(name);
    }
    index += width;
    literalStart = index + 1;
  }
  return out + text.slice(literalStart);
}

/** Go's getShellName: the name after a `$` and how many characters it took. */
function shellName(rest: string): [string, number] {
  const first = rest[0] ?? '';
  if (first === '{') {
    if (rest.length > 2 && SPECIAL.includes(rest[1] ?? '') && rest[2] === '}') return [rest.slice(1, 2), 3];
    const close = rest.indexOf('}', 1);
    if (close === 1) return ['', 2];
    if (close > 1) return [rest.slice(1, close), close + 1];
    return ['', 1];
  }
  if (first !== '' && SPECIAL.includes(first)) return [first, 1];
  let length = 0;
  while (length < rest.length && isAlphaNum(rest[length] ?? '')) length++;
  return [rest.slice(0, length), length];
}

/**
 * upstream's runCmd argv: the command split into fields, each field expanded with `variables` (the process
 * environment overlaid with the hook's own variables, as upstream's buildEnvMap).
 */
export function expandCommand(command: string, variables: Readonly<Record<string, string | undefined>>): string[] {
  // Own properties only: a field like `$constructor` must not reach Object.prototype.
  return goFields(command).map((field) => goExpand(field, (name) => (Object.hasOwn(variables, name) ? variables[name] ?? '' : '')));
}
