/**
 * A program made of subcommands (flannelctl): finds the command named by the first words of argv, parses its
 * arguments with the shared parser (cli-parse.ts), answers `--help` and `--version` itself without running
 * anything, and turns whatever goes wrong into one line on stderr — never a stack trace:
 *   exit 2  `flannelctl leases: unknown option --bogus (see 'flannelctl leases --help')`
 *   exit 1  `flannelctl leases: <what failed, naming the file, endpoint or permission>`
 * Help goes to stdout (exit 0); a missing or unknown command prints the usage to stderr (exit 2).
 */
import { renderCommandHelp, renderGroupUsage, renderProgramUsage } from './cli-help.js';
import { type ArgumentSpec, type OptionSpecs, type OptionValue, UsageError, parseCommandLine } from './cli-parse.js';
import { describeFailure } from './failure-text.js';

export { UsageError } from './cli-parse.js';

/** What a command's `run` gets. */
export interface CommandInput {
  readonly values: Readonly<Record<string, OptionValue>>;
  readonly positionals: readonly string[];
  /** The arguments after the command's name, as given (commands with `ownParser`). */
  readonly argv: readonly string[];
}

/** One subcommand: its words, help, options, arguments and what it runs. */
export interface CommandSpec {
  /** The words that name it: `['leases']`, `['config', 'check']`, `['lab', 'up']`. */
  readonly path: readonly string[];
  /** One line for the program's usage and the top of the command's help. */
  readonly summary: string;
  readonly options: OptionSpecs;
  readonly arguments?: ArgumentSpec;
  /** More help: exit codes, examples. */
  readonly details?: string;
  /** Replaces the generated help (commands with their own syntax). */
  readonly helpText?: string;
  /** Replaces the generated synopsis after the command's words (commands with their own syntax). */
  readonly synopsis?: string;
  /**
   * The command parses its own arguments (docker-opts keeps mk-docker-opts.sh's getopts syntax); `--help` and
   * `--version` are still answered here. It throws UsageError for bad usage.
   */
  readonly ownParser?: boolean;
  /** Needs CAP_NET_ADMIN (netlink writes, SO_RCVBUFFORCE): refused up front without it, naming the reason. */
  readonly needsNetAdmin?: boolean;
  /** Checks the arguments beyond what the parser knows (an address, a number), throwing UsageError; before the privilege check. */
  validate?(input: CommandInput): void;
  /** Runs the command; the exit code it returns is the program's. Throwing UsageError exits 2, anything else 1. */
  run(input: CommandInput): Promise<number> | number;
}

export interface ProgramIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Whether this process holds CAP_NET_ADMIN (checked for commands that need it). */
  readonly hasNetAdmin: () => boolean;
}

export interface Program {
  readonly name: string;
  readonly version: string;
  readonly commands: readonly CommandSpec[];
  /** Descriptions of the command groups (the first word of two-word commands). */
  readonly groups: Readonly<Record<string, string>>;
}

/** Runs the command argv names; resolves to the exit code. Never throws. */
export async function runProgram(program: Program, argv: readonly string[], io: ProgramIo): Promise<number> {
  const usage = () => renderProgramUsage(program.name, program.commands, program.groups);
  const [first] = argv;
  if (first === undefined) {
    io.stderr(usage());
    return 2;
  }
  if (first === '--help' || first === '-h' || (first === 'help' && argv.length === 1)) {
    io.stdout(usage());
    return 0;
  }
  if (first === '--version' || first === 'version') {
    io.stdout(`${program.version}\n`);
    return 0;
  }
  const words = first === 'help' ? argv.slice(1) : argv;
  const command = program.commands.find((candidate) => candidate.path.every((word, index) => words[index] === word));
  if (!command) return unknownCommand(program, words, io);
  const label = `${program.name} ${command.path.join(' ')}`;
  const rest = words.slice(command.path.length);
  if (first === 'help') {
    io.stdout(renderCommandHelp(program.name, command));
    return 0;
  }
  try {
    let input: CommandInput;
    if (command.ownParser) {
      const options = rest.includes('--') ? rest.slice(0, rest.indexOf('--')) : rest;
      if (options.includes('--help')) return help(program, command, io);
      if (options.includes('--version')) return version(program, io);
      input = { values: {}, positionals: [], argv: rest };
    } else {
      const line = parseCommandLine(command.options, command.arguments, rest, io.env);
      if (line.kind === 'help') return help(program, command, io);
      if (line.kind === 'version') return version(program, io);
      input = { values: line.values, positionals: line.positionals, argv: rest };
    }
    command.validate?.(input);
    if (command.needsNetAdmin && !io.hasNetAdmin()) {
      io.stderr(`${label}: needs root (CAP_NET_ADMIN) to read and change the kernel's network state: run it as root\n`);
      return 1;
    }
    return await command.run(input);
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(`${label}: ${error.message} (see '${label} --help')\n`);
      return 2;
    }
    io.stderr(`${label}: ${describeFailure(error)}\n`);
    return 1;
  }
}

function help(program: Program, command: CommandSpec, io: ProgramIo): number {
  io.stdout(renderCommandHelp(program.name, command));
  return 0;
}

function version(program: Program, io: ProgramIo): number {
  io.stdout(`${program.version}\n`);
  return 0;
}

/** A group without its command, a group's help, or a word that names no command. */
function unknownCommand(program: Program, words: readonly string[], io: ProgramIo): number {
  const [group, next] = words;
  const members = program.commands.filter((command) => command.path.length > 1 && command.path[0] === group);
  if (group !== undefined && members.length > 0) {
    const text = renderGroupUsage(program.name, group, program.groups[group] ?? '', members);
    if (next === '--help' || next === '-h') {
      io.stdout(text);
      return 0;
    }
    const names = members.map((command) => command.path[1]).join(', ');
    io.stderr(next === undefined
      ? `${program.name} ${group}: missing command, one of: ${names} (see '${program.name} ${group} --help')\n`
      : `${program.name} ${group}: unknown command ${JSON.stringify(next)}, expected one of: ${names} (see '${program.name} ${group} --help')\n`);
    return 2;
  }
  io.stderr(`${program.name}: unknown command ${JSON.stringify(group ?? '')} (see '${program.name} --help')\n`);
  return 2;
}

/**
 * Last resort for errors no command caught (an emitter's 'error', a rejected promise nobody awaited): one
 * line naming the program, exit 1. Installed once by each executable.
 */
export function exitOnStrayErrors(label: string, write: (text: string) => void = (text) => process.stderr.write(text)): void {
  const fail = (error: unknown) => {
    write(`${label}: ${describeFailure(error)}\n`);
    process.exit(1);
  };
  process.on('uncaughtException', fail);
  process.on('unhandledRejection', fail);
}
