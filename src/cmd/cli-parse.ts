/**
 * The one argument parser of every flannelctl subcommand (node:util parseArgs for the tokens, our own checks
 * for everything a user can get wrong), so that each behaves alike:
 * - `-h`/`--help` anywhere before `--` asks for help and `--version` for the version: nothing is run, and
 *   other mistakes on the line do not matter;
 * - an unknown option, a missing or dash-led option value (`--socket --json`), a value given to a switch
 *   (`--json=1`), or too many or too few arguments is a UsageError naming it;
 * - an option not given takes its environment variable when that is set and not empty (flanneld's
 *   FLANNELD_* convention), else its default;
 * - flanneld's single-dash spelling of long options (`-etcd-endpoints=…`, as in FLANNEL_OPTIONS) is accepted.
 * Pure: argv and environment in, the parsed command line or a UsageError out.
 */
import { parseArgs } from 'node:util';

/** One option of a subcommand. */
export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  /** A string option given several times collects every value (else the last one counts). */
  readonly multiple?: boolean;
  readonly default?: string;
  /** The value's name in the help (`--socket PATH`). */
  readonly placeholder?: string;
  readonly help: string;
  /** An environment variable that supplies the value when the option is not given (string options). */
  readonly env?: string;
  /**
   * Accepted and ignored (another program's flag, e.g. flanneld's, so its command line can be passed as it is);
   * a switch may then carry Go's `=true`/`=false`. Not listed in the help.
   */
  readonly ignored?: boolean;
}

export type OptionSpecs = Readonly<Record<string, OptionSpec>>;

/** How many arguments (non-options) a command takes, and how the help names them. */
export interface ArgumentSpec {
  readonly synopsis: string;
  readonly min: number;
  readonly max: number;
}

export type OptionValue = string | boolean | readonly string[] | undefined;

export interface ParsedCommandLine {
  readonly kind: 'run';
  readonly values: Readonly<Record<string, OptionValue>>;
  readonly positionals: readonly string[];
}

export type CommandLine = ParsedCommandLine | { readonly kind: 'help' } | { readonly kind: 'version' };

/** A mistake on the command line (exit code 2); the message names what was wrong. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** What Go's strconv.ParseBool accepts (flanneld's switches). */
const GO_BOOLEANS = new Set(['1', 't', 'T', 'TRUE', 'true', 'True', '0', 'f', 'F', 'FALSE', 'false', 'False']);

/** Options every subcommand has; their names are reserved. */
export const COMMON_OPTIONS: OptionSpecs = {
  help: { type: 'boolean', short: 'h', help: 'show this help and exit' },
  version: { type: 'boolean', help: 'print the version and exit' },
};

/** Parses one subcommand's arguments (everything after its name). Throws UsageError. */
export function parseCommandLine(
  options: OptionSpecs,
  argumentSpec: ArgumentSpec | undefined,
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>> = {},
): CommandLine {
  const all: OptionSpecs = { ...options, ...COMMON_OPTIONS };
  const args = goStyleToLong(argv, all);
  const { tokens } = parseArgs({
    args: [...args], strict: false, allowPositionals: true, tokens: true,
    options: Object.fromEntries(Object.entries(all).map(([name, spec]) => [name, { type: spec.type, ...(spec.short ? { short: spec.short } : {}) }])),
  });
  // Raw arguments too: `--socket --help` is a request for help, not a socket named "--help".
  const beforeTerminator = argv.includes('--') ? argv.slice(0, argv.indexOf('--')) : argv;
  const asked = (name: string) => tokens.some((token) => token.kind === 'option' && token.name === name) || beforeTerminator.includes(`--${name}`);
  if (asked('help') || beforeTerminator.includes('-h')) return { kind: 'help' };
  if (asked('version')) return { kind: 'version' };

  const values: Record<string, OptionValue> = {};
  const positionals: string[] = [];
  for (const token of tokens) {
    if (token.kind === 'positional') {
      positionals.push(token.value);
      continue;
    }
    if (token.kind !== 'option') continue;
    const spec = Object.hasOwn(all, token.name) ? all[token.name] : undefined;
    const known = spec && (token.rawName.startsWith('--') ? token.rawName === `--${token.name}` : spec.short === token.rawName.slice(1));
    if (!spec || !known) throw new UsageError(`unknown option ${token.rawName}`);
    if (spec.type === 'boolean') {
      if (token.inlineValue && spec.ignored && GO_BOOLEANS.has(token.value ?? '')) continue;
      if (token.inlineValue) throw new UsageError(`${token.rawName} takes no value (got ${JSON.stringify(`${token.rawName}=${token.value ?? ''}`)})`);
      values[token.name] = true;
      continue;
    }
    if (token.value === undefined) throw new UsageError(`${token.rawName} needs a value`);
    if (!token.inlineValue && token.value.startsWith('-') && token.value !== '-') {
      throw new UsageError(`${token.rawName} needs a value, got the option ${token.value} (write ${token.rawName}=${token.value} if that is the value)`);
    }
    values[token.name] = spec.multiple ? [...((values[token.name] as string[] | undefined) ?? []), token.value] : token.value;
  }

  const expected = argumentSpec ?? { synopsis: '', min: 0, max: 0 };
  if (positionals.length > expected.max) {
    const extra = positionals.slice(expected.max).map((value) => JSON.stringify(value)).join(' ');
    throw new UsageError(expected.max === 0 ? `unexpected argument ${extra}` : `too many arguments: ${extra} (expected ${expected.synopsis})`);
  }
  if (positionals.length < expected.min) throw new UsageError(`missing argument ${expected.synopsis}`);

  for (const [name, spec] of Object.entries(options)) {
    if (spec.ignored) {
      delete values[name];
      continue;
    }
    if (values[name] !== undefined) continue;
    const fromEnv = spec.env ? env[spec.env] : undefined;
    if (spec.type === 'string' && fromEnv !== undefined && fromEnv !== '') values[name] = spec.multiple ? [fromEnv] : fromEnv;
    else if (spec.default !== undefined) values[name] = spec.multiple ? [spec.default] : spec.default;
    else if (spec.type === 'boolean') values[name] = false;
  }
  return { kind: 'run', values, positionals };
}

/**
 * flanneld (Go's flag package) spells long options with one dash: `-etcd-prefix=/x`. Such an argument, when
 * the name is one of the command's long options, is rewritten to `--etcd-prefix=/x`; short options and
 * clusters of them (`-hj`) are left to parseArgs.
 */
function goStyleToLong(argv: readonly string[], options: OptionSpecs): string[] {
  const result: string[] = [];
  let ended = false;
  for (const argument of argv) {
    ended ||= argument === '--';
    const match = ended ? null : /^-([a-z][a-z0-9-]+)(=.*)?$/s.exec(argument);
    result.push(match && Object.hasOwn(options, match[1] as string) ? `-${argument}` : argument);
  }
  return result;
}

/** A string option's value (its default applied by the parser). */
export function stringValue(values: Readonly<Record<string, OptionValue>>, name: string): string {
  const value = values[name];
  if (typeof value !== 'string') throw new Error(`option --${name} has no string value`);
  return value;
}

/** A switch's value. */
export function booleanValue(values: Readonly<Record<string, OptionValue>>, name: string): boolean {
  return values[name] === true;
}

/** A non-negative integer option, or a UsageError naming it and the value. */
export function countValue(values: Readonly<Record<string, OptionValue>>, name: string, bounds: { min?: number; max?: number } = {}): number {
  const text = stringValue(values, name);
  const number = /^\d{1,9}$/.test(text) ? Number(text) : Number.NaN;
  const min = bounds.min ?? 0;
  const max = bounds.max ?? 999_999_999;
  if (!Number.isInteger(number) || number < min || number > max) {
    throw new UsageError(`--${name}: expected a whole number from ${min} to ${max}, got ${JSON.stringify(text)}`);
  }
  return number;
}
