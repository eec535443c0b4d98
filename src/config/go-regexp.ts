/**
 * Go regular expressions (RE2 syntax, as upstream compiles `--iface-regex`) turned into JavaScript RegExps with
 * the same meaning, pure. The two syntaxes overlap but differ in ways that would silently change a match:
 * `\A`, `\z`, `\Q…\E`, `(?P<name>…)`, `(?i)` and POSIX classes `[[:digit:]]` exist only in Go; in JavaScript
 * `\A` is a plain "A" and `[[:digit:]]` a class of letters; `[]a]` is a class with `]` in Go but an empty
 * class in JavaScript. Go rejects lookaround and backreferences, which JavaScript accepts. Everything that is
 * valid Go is translated or refused with a reason; everything Go refuses is refused.
 *
 * Refused although valid in Go (each with a message saying so): Unicode classes (`\pL`), flag groups other than
 * a leading `(?flags)`, the ungreedy flag `U`, code points above U+FFFF, and nested unbounded repetition such as
 * `(a+)+` (an unbounded repetition of a group holding one), which JavaScript's backtracking matcher can take
 * exponential time on (RE2 is linear); `(\d+\.){3}` is fine.
 */
import { FlannelError } from '../support/errors.js';

/** Compiles a Go regular expression; FlannelError('BAD_REGEX') says why not (the caller names the flag). */
export function compileGoRegexp(pattern: string): RegExp {
  const { source, flags } = translateGoRegexp(pattern);
  try {
    return new RegExp(source, flags);
  } catch (error) {
    throw bad(`${(error as Error).message.replace(/^Invalid regular expression: \/.*\/[a-z]*: /s, '')}`);
  }
}

/** The JavaScript source and flags for a Go pattern (exported for tests). */
export function translateGoRegexp(pattern: string): { source: string; flags: string } {
  let index = 0;
  let flags = '';
  // Leading flag groups apply to the whole expression, which JavaScript flags can express.
  for (let match = /^\(\?([a-zA-Z-]*)\)/.exec(pattern); match; match = /^\(\?([a-zA-Z-]*)\)/.exec(pattern.slice(index))) {
    flags = applyFlags(flags, match[1] as string);
    index += match[0].length;
  }
  let out = '';
  // One frame per open group: whether it holds an unbounded repetition (for the nested-repetition check).
  const frames: boolean[] = [false];
  let lastAtomUnbounded = false;
  while (index < pattern.length) {
    const char = pattern[index] as string;
    if (char === '\\') {
      const escape = translateEscape(pattern, index, false);
      out += escape.text;
      index = escape.next;
      lastAtomUnbounded = false;
    } else if (char === '[') {
      const parsed = translateClass(pattern, index);
      out += parsed.text;
      index = parsed.next;
      lastAtomUnbounded = false;
    } else if (char === '(') {
      const group = translateGroupOpen(pattern, index);
      out += group.text;
      index = group.next;
      frames.push(false);
    } else if (char === ')') {
      if (frames.length === 1) throw bad('unexpected )');
      lastAtomUnbounded = frames.pop() as boolean;
      frames[frames.length - 1] ||= lastAtomUnbounded;
      out += char;
      index++;
    } else if (char === '*' || char === '+' || char === '?' || char === '{') {
      const repeat = readRepeat(pattern, index);
      if (repeat === undefined) {
        // `{` that is not a repetition is a literal in both syntaxes.
        out += '\\{';
        index++;
        lastAtomUnbounded = false;
        continue;
      }
      if (repeat.unbounded && lastAtomUnbounded) {
        throw bad(`nested unbounded repetition ${JSON.stringify(pattern.slice(0, repeat.next))} is not supported (exponential time in JavaScript); bound the outer one, e.g. {1,8}`);
      }
      frames[frames.length - 1] ||= repeat.unbounded;
      out += pattern.slice(index, repeat.next);
      index = repeat.next;
      lastAtomUnbounded = false;
    } else {
      out += char;
      index++;
      lastAtomUnbounded = false;
    }
  }
  if (frames.length > 1) throw bad('missing closing )');
  return { source: out, flags };
}

function bad(reason: string): FlannelError {
  return new FlannelError('BAD_REGEX', reason);
}

function applyFlags(current: string, text: string): string {
  if (text === '' || text === '-' || text.endsWith('-')) throw bad(`missing argument to flag group (?${text})`);
  let flags = current;
  let clearing = false;
  for (const flag of text) {
    if (flag === '-') {
      if (clearing) throw bad(`invalid flag group (?${text})`);
      clearing = true;
    } else if (flag === 'U') {
      throw bad('the ungreedy flag (?U) is not supported; use lazy quantifiers (*?, +?) instead');
    } else if (flag === 'i' || flag === 'm' || flag === 's') {
      flags = clearing ? flags.replace(flag, '') : flags.includes(flag) ? flags : flags + flag;
    } else {
      throw bad(`invalid flag group (?${text})`);
    }
  }
  return flags;
}

/** `*`, `+`, `?`, `{n}`, `{n,}`, `{n,m}` (n, m ≤ 1000 as Go), each optionally lazy (`?`). */
function readRepeat(pattern: string, index: number): { next: number; unbounded: boolean } | undefined {
  const char = pattern[index] as string;
  let next = index + 1;
  let unbounded = char === '*' || char === '+';
  if (char === '{') {
    const braces = /^\{(\d+)(,(\d*))?\}/.exec(pattern.slice(index));
    if (!braces) return undefined;
    const low = Number(braces[1]);
    const high = braces[2] === undefined ? low : braces[3] === '' ? Infinity : Number(braces[3]);
    if (low > 1000 || (high !== Infinity && (high > 1000 || high < low))) throw bad(`invalid repeat count ${braces[0]}`);
    unbounded = high === Infinity;
    next = index + braces[0].length;
  }
  if (pattern[next] === '?') next++;
  const following = pattern[next];
  if (following === '*' || following === '+' || following === '?' || (following === '{' && /^\{\d+(,\d*)?\}/.test(pattern.slice(next)))) {
    throw bad(`invalid nested repetition operator ${JSON.stringify(pattern.slice(index, next + 1))}`);
  }
  return { next, unbounded };
}

function translateGroupOpen(pattern: string, index: number): { text: string; next: number } {
  const rest = pattern.slice(index);
  if (!rest.startsWith('(?')) return { text: '(', next: index + 1 };
  const named = /^\(\?P?<([A-Za-z_][A-Za-z0-9_]*)>/.exec(rest);
  if (named) return { text: `(?<${named[1]}>`, next: index + named[0].length };
  if (rest.startsWith('(?:')) return { text: '(?:', next: index + 3 };
  if (/^\(\?(=|!|<=|<!)/.test(rest)) throw bad(`lookaround ${rest.slice(0, rest.startsWith('(?<') ? 4 : 3)} is not supported (Go's RE2 syntax has none)`);
  if (/^\(\?P?</.test(rest)) throw bad('invalid named capture');
  if (/^\(\?[a-zA-Z-]*[:)]/.test(rest)) throw bad('flag groups are supported only at the start of the expression, as (?i)');
  throw bad(`invalid or unsupported Perl syntax ${JSON.stringify(rest.slice(0, 3))}`);
}

/** One escape sequence at `index` (a backslash); inside a class some are not allowed, as in Go. */
function translateEscape(pattern: string, index: number, inClass: boolean): { text: string; next: number } {
  const char = pattern[index + 1];
  if (char === undefined) throw bad('trailing backslash at end of expression');
  const next = index + 2;
  if ('dDsSwW'.includes(char)) return { text: `\\${char}`, next };
  if (!inClass && (char === 'b' || char === 'B')) return { text: `\\${char}`, next };
  if (!inClass && char === 'A') return { text: '(?<![\\s\\S])', next };
  if (!inClass && char === 'z') return { text: '(?![\\s\\S])', next };
  if (!inClass && char === 'Q') {
    const end = pattern.indexOf('\\E', next);
    const literal = pattern.slice(next, end < 0 ? pattern.length : end);
    return { text: [...literal].map(literalChar).join(''), next: end < 0 ? pattern.length : end + 2 };
  }
  if (char === 'p' || char === 'P') throw bad(`Unicode classes (\\${char}) are not supported`);
  const simple: Record<string, string> = { a: '\\x07', f: '\\f', t: '\\t', n: '\\n', r: '\\r', v: '\\v' };
  if (simple[char] !== undefined) return { text: simple[char], next };
  if (char === 'x') {
    const braced = /^\{([0-9A-Fa-f]+)\}/.exec(pattern.slice(next));
    const plain = /^[0-9A-Fa-f]{2}/.exec(pattern.slice(next));
    const hex = braced?.[1] ?? plain?.[0];
    if (hex === undefined) throw bad('invalid escape sequence \\x');
    return { text: codePoint(parseInt(hex, 16)), next: next + (braced ? braced[0].length : 2) };
  }
  if (char >= '0' && char <= '9') {
    // Go: up to three octal digits; a lone \1..\9 would be a backreference, which RE2 does not have.
    const octal = /^[0-7]{1,3}/.exec(pattern.slice(index + 1))?.[0] ?? '';
    if (octal === '' || (char !== '0' && octal.length === 1)) throw bad(`backreference or invalid escape \\${char} is not supported`);
    return { text: codePoint(parseInt(octal, 8)), next: index + 1 + octal.length };
  }
  if (char.charCodeAt(0) < 0x80 && !/[A-Za-z0-9]/.test(char)) return { text: `\\${char}`, next };
  throw bad(`invalid escape sequence \\${char}`);
}

function codePoint(value: number): string {
  if (value > 0xffff) throw bad(`code point U+${value.toString(16).toUpperCase()} above U+FFFF is not supported`);
  return `\\u${value.toString(16).padStart(4, '0')}`;
}

function literalChar(char: string): string {
  return /[\\^$.*+?()[\]{}|/-]/.test(char) ? `\\${char}` : char;
}

const POSIX_CLASSES: Readonly<Record<string, ReadonlyArray<readonly [number, number]>>> = {
  alnum: [[0x30, 0x39], [0x41, 0x5a], [0x61, 0x7a]],
  alpha: [[0x41, 0x5a], [0x61, 0x7a]],
  ascii: [[0x00, 0x7f]],
  blank: [[0x09, 0x09], [0x20, 0x20]],
  cntrl: [[0x00, 0x1f], [0x7f, 0x7f]],
  digit: [[0x30, 0x39]],
  graph: [[0x21, 0x7e]],
  lower: [[0x61, 0x7a]],
  print: [[0x20, 0x7e]],
  punct: [[0x21, 0x2f], [0x3a, 0x40], [0x5b, 0x60], [0x7b, 0x7e]],
  space: [[0x09, 0x0d], [0x20, 0x20]],
  upper: [[0x41, 0x5a]],
  word: [[0x30, 0x39], [0x41, 0x5a], [0x61, 0x7a], [0x5f, 0x5f]],
  xdigit: [[0x30, 0x39], [0x41, 0x46], [0x61, 0x66]],
};

/** The ranges of a POSIX class (complemented within the BMP when negated) as class-body text. */
function posixRanges(name: string, negated: boolean): string {
  const ranges = POSIX_CLASSES[name];
  if (!ranges) throw bad(`invalid character class [:${negated ? '^' : ''}${name}:]`);
  let chosen = [...ranges].sort((a, b) => a[0] - b[0]);
  if (negated) {
    const complement: Array<[number, number]> = [];
    let start = 0;
    for (const [low, high] of chosen) {
      if (low > start) complement.push([start, low - 1]);
      start = Math.max(start, high + 1);
    }
    if (start <= 0xffff) complement.push([start, 0xffff]);
    chosen = complement;
  }
  return chosen.map(([low, high]) => (low === high ? codePoint(low) : `${codePoint(low)}-${codePoint(high)}`)).join('');
}

/** A bracketed class at `index`; a `]` right after `[` or `[^` is a literal, as in Go. */
function translateClass(pattern: string, index: number): { text: string; next: number } {
  let position = index + 1;
  let text = '[';
  if (pattern[position] === '^') {
    text += '^';
    position++;
  }
  let first = true;
  while (position < pattern.length) {
    const char = pattern[position] as string;
    if (char === ']' && !first) return { text: text + ']', next: position + 1 };
    first = false;
    const posix = /^\[:(\^?)([a-z]+):\]/.exec(pattern.slice(position));
    if (posix) {
      text += posixRanges(posix[2] as string, posix[1] === '^');
      position += posix[0].length;
    } else if (char === '\\') {
      const escape = translateEscape(pattern, position, true);
      text += escape.text;
      position = escape.next;
    } else {
      text += char === ']' || char === '[' ? `\\${char}` : char;
      position++;
    }
  }
  throw bad(`missing closing ] in ${JSON.stringify(pattern.slice(index))}`);
}
