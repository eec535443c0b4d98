#!/usr/bin/env node
/**
 * flannelctl: operations and the lab. A dispatcher over one module per subcommand (flannelctl-program.ts lists
 * them); cli.ts parses, answers --help/--version and turns failures into one line.
 */
import { exitOnStrayErrors, runProgram } from './cli.js';
import { hasNetAdmin } from './capabilities.js';
import { FLANNELCTL } from './flannelctl-program.js';

exitOnStrayErrors('flannelctl');
process.exit(await runProgram(FLANNELCTL, process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  env: process.env,
  hasNetAdmin,
}));
