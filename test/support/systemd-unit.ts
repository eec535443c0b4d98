/**
 * What systemd (v252, Debian 12) passes to a service's main process, for tests on machines without a running
 * systemd: the [Service] section's Environment= and EnvironmentFile= (files override Environment=, later files
 * override earlier ones, `-` skips a missing file; systemd's env-file grammar: quotes, escapes, continuation
 * lines, `#`/`;` comments), and ExecStart= split into words (quotes, C escapes) with variables replaced as
 * systemd.service(5) says: `${FOO}` inside a word → the value verbatim (one argument), `$FOO` as a whole word →
 * the value split at whitespace, quotes respected then removed (zero or more arguments).
 *
 * Only what our units use is implemented; anything else (executable prefixes, `%` specifiers) throws, so a
 * unit that needs more cannot pass silently.
 */
const WHITESPACE = ' \t\n\r';
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Key/value entries of one section, in order, continuation lines joined. */
export function unitSection(text: string, section: string): Array<[string, string]> {
  const entries: Array<[string, string]> = [];
  let current = '';
  let pending = '';
  for (const rawLine of text.split('\n')) {
    const line = (pending + rawLine).trim();
    pending = '';
    if (line.endsWith('\\')) {
      pending = line.slice(0, -1) + ' ';
      continue;
    }
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    if (line.startsWith('[')) {
      current = line.slice(1, line.indexOf(']'));
      continue;
    }
    const equals = line.indexOf('=');
    if (current === section && equals > 0) entries.push([line.slice(0, equals).trim(), line.slice(equals + 1).trim()]);
  }
  return entries;
}

/** systemd's EnvironmentFile= parser (src/basic/env-file.c, parse_env_file_internal). */
export function parseEnvironmentFile(text: string): Map<string, string> {
  const result = new Map<string, string>();
  type State = 'preKey' | 'key' | 'preValue' | 'value' | 'valueEscape' | 'single' | 'double' | 'doubleEscape' | 'comment' | 'commentEscape';
  let state: State = 'preKey';
  let key = '';
  let value: string | undefined;
  let valueTrailingSpace = -1;
  const push = () => {
    const name = key.trim();
    if (value !== undefined && ENV_NAME.test(name)) result.set(name, value);
    key = '';
    value = undefined;
  };
  for (const c of text) {
    const newline = c === '\n' || c === '\r';
    switch (state) {
      case 'preKey':
        if (c === '#' || c === ';') state = 'comment';
        else if (!WHITESPACE.includes(c)) {
          state = 'key';
          key = c;
        }
        break;
      case 'key':
        if (newline) {
          state = 'preKey';
          key = '';
        } else if (c === '=') {
          state = 'preValue';
          valueTrailingSpace = -1;
        } else key += c;
        break;
      case 'preValue':
        if (newline) {
          state = 'preKey';
          value ??= '';
          push();
        } else if (c === "'") state = 'single';
        else if (c === '"') state = 'double';
        else if (c === '\\') state = 'valueEscape';
        else if (!WHITESPACE.includes(c)) {
          state = 'value';
          value = (value ?? '') + c;
        }
        break;
      case 'value':
        if (newline) {
          state = 'preKey';
          if (valueTrailingSpace >= 0) value = (value ?? '').slice(0, valueTrailingSpace);
          push();
        } else if (c === '\\') {
          state = 'valueEscape';
          valueTrailingSpace = -1;
        } else {
          if (!WHITESPACE.includes(c)) valueTrailingSpace = -1;
          else if (valueTrailingSpace < 0) valueTrailingSpace = (value ?? '').length;
          value = (value ?? '') + c;
        }
        break;
      case 'valueEscape':
        state = 'value';
        if (!newline) value = (value ?? '') + c;
        break;
      case 'single':
        if (c === "'") state = 'preValue';
        else value = (value ?? '') + c;
        break;
      case 'double':
        if (c === '"') state = 'preValue';
        else if (c === '\\') state = 'doubleEscape';
        else value = (value ?? '') + c;
        break;
      case 'doubleEscape':
        state = 'double';
        if ('"\\`$'.includes(c)) value = (value ?? '') + c;
        else if (c !== '\n') value = (value ?? '') + '\\' + c;
        break;
      case 'comment':
        if (c === '\\') state = 'commentEscape';
        else if (newline) state = 'preKey';
        break;
      case 'commentEscape':
        state = newline ? 'preKey' : 'comment';
        break;
    }
  }
  if (['preValue', 'value', 'valueEscape', 'single', 'double', 'doubleEscape'].includes(state)) {
    if (state === 'value' && valueTrailingSpace >= 0) value = (value ?? '').slice(0, valueTrailingSpace);
    value ??= '';
    push();
  }
  return result;
}

const C_ESCAPES: Readonly<Record<string, string>> = { n: '\n', t: '\t', r: '\r', a: '\x07', b: '\b', f: '\f', v: '\v', s: ' ', '\\': '\\', '"': '"', "'": "'" };

/**
 * systemd's extract_first_word, repeated: words split at whitespace, quotes (anywhere in a word) respected and
 * removed, a backslash takes the next character (C escapes with `cunescape`). `relax` accepts an unclosed quote.
 */
export function splitWords(text: string, options: { cunescape: boolean; relax: boolean }): string[] {
  const words: string[] = [];
  let index = 0;
  for (;;) {
    while (index < text.length && WHITESPACE.includes(text[index] as string)) index++;
    if (index >= text.length) return words;
    let word = '';
    let quote: string | undefined;
    for (; index < text.length; index++) {
      const c = text[index] as string;
      if (c === '\\') {
        const next = text[++index];
        if (next === undefined) word += '\\';
        else if (options.cunescape) word += C_ESCAPES[next] ?? `\\${next}`;
        else word += next;
      } else if (quote !== undefined) {
        if (c === quote) quote = undefined;
        else word += c;
      } else if (c === "'" || c === '"') quote = c;
      else if (WHITESPACE.includes(c)) break;
      else word += c;
    }
    if (quote !== undefined && !options.relax) throw new Error(`unbalanced quote in ${JSON.stringify(text)}`);
    words.push(word);
  }
}

/** The environment systemd gives the service: Environment= first, then EnvironmentFile= in order on top. */
export function serviceEnvironment(unitText: string, readFile: (path: string) => string | undefined): Map<string, string> {
  const entries = unitSection(unitText, 'Service');
  const environment = new Map<string, string>();
  for (const [key, value] of entries) {
    if (key !== 'Environment') continue;
    for (const assignment of splitWords(value, { cunescape: true, relax: true })) {
      const equals = assignment.indexOf('=');
      if (equals > 0) environment.set(assignment.slice(0, equals), assignment.slice(equals + 1));
    }
  }
  for (const [key, value] of entries) {
    if (key !== 'EnvironmentFile') continue;
    const optional = value.startsWith('-');
    const path = optional ? value.slice(1) : value;
    const text = readFile(path);
    if (text === undefined) {
      if (optional) continue;
      throw new Error(`EnvironmentFile ${path} does not exist (systemd would fail the start)`);
    }
    for (const [name, fileValue] of parseEnvironmentFile(text)) environment.set(name, fileValue);
  }
  return environment;
}

/** The argv of the unit's (single) ExecStart= after variable replacement. */
export function execStartArgv(unitText: string, environment: ReadonlyMap<string, string>): string[] {
  const lines = unitSection(unitText, 'Service').filter(([key]) => key === 'ExecStart').map(([, value]) => value).filter((value) => value !== '');
  if (lines.length !== 1) throw new Error(`want exactly one ExecStart=, got ${lines.length}`);
  const line = lines[0] as string;
  if (/%[^%]/.test(line.replace(/%%/g, ''))) throw new Error('ExecStart uses % specifiers: not implemented here');
  const words = splitWords(line.replace(/%%/g, '%'), { cunescape: true, relax: false });
  if (/^[-@:+!]/.test(words[0] ?? '')) throw new Error('ExecStart executable prefixes are not implemented here');
  return words.flatMap((word) => {
    if (word.startsWith('$') && word[1] !== '{' && word[1] !== '$') {
      const name = word.slice(1);
      const value = ENV_NAME.test(name) ? environment.get(name) : undefined;
      return value === undefined ? [] : splitWords(value, { cunescape: false, relax: true });
    }
    return [word.replace(/\$\$|\$\{([^}]*)\}/g, (match, name: string | undefined) => (match === '$$' ? '$' : environment.get(name ?? '') ?? ''))];
  });
}
