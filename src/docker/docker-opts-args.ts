/**
 * `flannelctl docker-opts` arguments: the flags of upstream's dist/mk-docker-opts.sh with its POSIX getopts
 * syntax (`-f FILE` or `-fFILE`, clustered `-ic`, `--` ends the options), its defaults, and "neither -i nor -c
 * means both". Pure.
 *
 * Deliberate differences: `-h`, `-?` and `--help` ask for help (the caller prints it and exits 0; the script
 * exits 1), and a stray argument is an error (getopts silently ignores it).
 */
import { FlannelError } from '../support/errors.js';

export interface DockerOptsRequest {
  /** -f: flannel's env file. */
  readonly subnetFile: string;
  /** -d: the Docker env file written. */
  readonly outputFile: string;
  /** -i: one DOCKER_OPT_* variable per option. */
  readonly individual: boolean;
  /** -c: all options in one variable. */
  readonly combined: boolean;
  /** -k: that variable's name. */
  readonly combinedKey: string;
  /** False with -m: no --ip-masq (Docker versions without the flag). */
  readonly ipMasq: boolean;
}

export type DockerOptsCommand = { readonly help: true } | { readonly help: false; readonly request: DockerOptsRequest };

export const DOCKER_OPTS_USAGE = `Usage: flannelctl docker-opts [-f FLANNEL-ENV-FILE] [-d DOCKER-ENV-FILE] [-i] [-c] [-m] [-k COMBINED-KEY]

Writes Docker daemon options for this host's flannel subnet (a drop-in for flannel's mk-docker-opts.sh).
  -f FILE  flannel env file to read (default /run/flannel/subnet.env)
  -d FILE  Docker env file to write (default /run/docker_opts.env)
  -i       one variable per option: DOCKER_OPT_BIP, DOCKER_OPT_IPMASQ, DOCKER_OPT_MTU
  -c       all options in one variable (DOCKER_OPTS, or the -k name)
  -k KEY   name of the combined variable (default DOCKER_OPTS)
  -m       leave out --ip-masq
  -h       this help
Neither -i nor -c writes both. DOCKER_OPT_* variables and KEY already in the environment are kept.
`;

const WITH_VALUE = new Set(['f', 'd', 'k']);
const SHELL_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Throws FlannelError('BAD_USAGE') naming the offending argument. */
export function parseDockerOptsArgs(argv: readonly string[]): DockerOptsCommand {
  let subnetFile = '/run/flannel/subnet.env';
  let outputFile = '/run/docker_opts.env';
  let combinedKey = 'DOCKER_OPTS';
  let individual = false;
  let combined = false;
  let ipMasq = true;
  for (let index = 0; index < argv.length; index++) {
    const argument = argv[index] as string;
    if (argument === '--help') return { help: true };
    if (argument === '--') {
      if (index + 1 < argv.length) throw usageError(`unexpected argument ${JSON.stringify(argv[index + 1])}`);
      break;
    }
    if (!argument.startsWith('-') || argument === '-') throw usageError(`unexpected argument ${JSON.stringify(argument)}`);
    // getopts would take `--bip` as the options -, b, i, p; name the whole word instead.
    if (argument.startsWith('--')) throw usageError(`unknown option ${argument.split('=')[0]}`);
    for (let position = 1; position < argument.length; position++) {
      const letter = argument[position] as string;
      if (WITH_VALUE.has(letter)) {
        let value = argument.slice(position + 1);
        if (value === '') {
          const next = argv[index + 1];
          if (next === undefined) throw usageError(`option -${letter} needs an argument`);
          value = next;
          index++;
        }
        if (letter === 'f') subnetFile = value;
        else if (letter === 'd') outputFile = value;
        else combinedKey = value;
        break;
      }
      switch (letter) {
        case 'i':
          individual = true;
          break;
        case 'c':
          combined = true;
          break;
        case 'm':
          ipMasq = false;
          break;
        case 'h':
        case '?':
          return { help: true };
        default:
          throw usageError(`unknown option -${letter}`);
      }
    }
  }
  if (!SHELL_NAME.test(combinedKey)) throw usageError(`-k ${JSON.stringify(combinedKey)}: want a variable name (letters, digits, _)`);
  if (subnetFile === '' || outputFile === '') throw usageError('-f and -d need a file name');
  if (!individual && !combined) individual = combined = true;
  return { help: false, request: { subnetFile, outputFile, individual, combined, combinedKey, ipMasq } };
}

function usageError(message: string): FlannelError {
  return new FlannelError('BAD_USAGE', message);
}
