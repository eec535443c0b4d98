/**
 * Help text of a program and its subcommands, made from the same specs the parser uses, so that what `--help`
 * lists is exactly what is accepted. Pure.
 */
import { COMMON_OPTIONS, type OptionSpec, type OptionSpecs } from './cli-parse.js';
import type { CommandSpec } from './cli.js';

const OPTION_COLUMN = 28;

/** `flannelctl leases [OPTIONS]`, `flannelctl trace [OPTIONS] DST`: the command's synopsis. */
export function synopsis(program: string, command: CommandSpec): string {
  if (command.synopsis) return `${program} ${command.path.join(' ')} ${command.synopsis}`;
  const parts = [program, ...command.path];
  if (Object.keys(command.options).length > 0) parts.push('[OPTIONS]');
  if (command.arguments?.synopsis) parts.push(command.arguments.synopsis);
  return parts.join(' ');
}

/** A subcommand's `--help`: synopsis, summary, options (with defaults and environment variables), details. */
export function renderCommandHelp(program: string, command: CommandSpec): string {
  if (command.helpText) return command.helpText;
  const lines = [`Usage: ${synopsis(program, command)}`, '', wrap(command.summary, 0)];
  if (!command.synopsis || Object.keys(command.options).length > 0) {
    lines.push('', 'Options:', ...renderOptions({ ...command.options, ...COMMON_OPTIONS }));
  }
  if (command.details) lines.push('', command.details.trimEnd());
  return lines.join('\n') + '\n';
}

/** One entry per option: `  -f, --flag VALUE   help (default …) [env NAME]`, continued lines indented. */
export function renderOptions(options: OptionSpecs): string[] {
  const lines: string[] = [];
  for (const [name, spec] of Object.entries(options)) {
    if (spec.ignored) continue;
    const left = `  ${spec.short ? `-${spec.short}, ` : '    '}--${name}${spec.type === 'string' ? ` ${spec.placeholder ?? 'VALUE'}` : ''}`;
    const text = describeOption(spec);
    if (left.length + 2 <= OPTION_COLUMN) lines.push(left.padEnd(OPTION_COLUMN) + wrap(text, OPTION_COLUMN));
    else lines.push(left, ' '.repeat(OPTION_COLUMN) + wrap(text, OPTION_COLUMN));
  }
  return lines;
}

function describeOption(spec: OptionSpec): string {
  const notes = [spec.default !== undefined && spec.default !== '' ? `default ${spec.default}` : '', spec.multiple ? 'repeatable' : '']
    .filter((note) => note !== '');
  return `${spec.help}${notes.length > 0 ? ` (${notes.join(', ')})` : ''}${spec.env ? ` [env ${spec.env}]` : ''}`;
}

/** The program's usage: every command's synopsis and summary, grouped as listed. */
export function renderProgramUsage(program: string, commands: readonly CommandSpec[], groups: Readonly<Record<string, string>>): string {
  const lines = [`Usage: ${program} COMMAND [OPTIONS] [ARGUMENTS]`, '', 'Commands:'];
  for (const command of commands) lines.push(`  ${synopsis(program, command)}`, `      ${wrap(command.summary, 6)}`);
  const groupNames = Object.keys(groups);
  lines.push(
    '',
    `Run '${program} COMMAND --help' for a command's options${groupNames.length > 0 ? ` (${groupNames.map((group) => `'${program} ${group} --help'`).join(', ')} for a group)` : ''}.`,
    `'${program} --version' prints the version.`,
  );
  return lines.join('\n') + '\n';
}

/** A group's usage (`flannelctl lab --help`): its commands only. */
export function renderGroupUsage(program: string, group: string, description: string, commands: readonly CommandSpec[]): string {
  const lines = [`Usage: ${program} ${group} COMMAND [OPTIONS]`, '', wrap(description, 0), '', 'Commands:'];
  for (const command of commands) lines.push(`  ${synopsis(program, command)}`, `      ${wrap(command.summary, 6)}`);
  lines.push('', `Run '${program} ${group} COMMAND --help' for a command's options.`);
  return lines.join('\n') + '\n';
}

/** Wraps `text` at 110 columns; continuation lines are indented by `indent`. */
function wrap(text: string, indent: number): string {
  const width = 110 - indent;
  const out: string[] = [];
  for (const paragraph of text.split('\n')) {
    let line = '';
    for (const word of paragraph.split(' ')) {
      if (line !== '' && line.length + 1 + word.length > width) {
        out.push(line);
        line = word;
      } else line = line === '' ? word : `${line} ${word}`;
    }
    out.push(line);
  }
  return out.join('\n' + ' '.repeat(indent));
}
