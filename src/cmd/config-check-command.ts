/**
 * `flannelctl config check FILE|-`: prints the effective network config (upstream's defaulting applied, upstream
 * field names) and exits 0, or lists every problem of the config and of its Backend options and exits 1.
 */
import { readFileSync } from 'node:fs';
import { backendConfigProblems } from '../backend/backends.js';
import { type NetworkConfig, networkConfigToJson, parseNetworkConfig } from '../config/network-config.js';
import { ValidationError, errorMessage } from '../support/errors.js';
import type { CommandSpec } from './cli.js';
import { describeFailure } from './failure-text.js';

export const configCheckCommand: CommandSpec = {
  path: ['config', 'check'],
  summary: 'print the effective network config, or every problem of it and of its Backend options (exit 1); - reads stdin',
  arguments: { synopsis: 'FILE|-', min: 1, max: 1 },
  options: {},
  run({ positionals }) {
    const path = positionals[0] as string;
    let text: string;
    try {
      text = readFileSync(path === '-' ? 0 : path, 'utf8');
    } catch (error) {
      process.stderr.write(`flannelctl config check: ${describeFailure(error)}\n`);
      return 1;
    }
    const { config, problems } = checkConfigText(text);
    if (config && problems.length === 0) {
      process.stdout.write(JSON.stringify(networkConfigToJson(config), null, 2) + '\n');
      return 0;
    }
    process.stderr.write(`network config is invalid (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n`);
    for (const problem of problems) process.stderr.write(`  - ${problem}\n`);
    return 1;
  },
};

/**
 * The network config's problems, then its Backend's (per backend type); the Backend is checked even when the
 * rest of the config is invalid, decoded without upstream's defaulting, so every problem is reported at once.
 */
function checkConfigText(text: string): { config?: NetworkConfig; problems: string[] } {
  const problemsOf = (error: unknown) => (error instanceof ValidationError ? [...error.problems] : [errorMessage(error)]);
  try {
    const config = parseNetworkConfig(text);
    return { config, problems: backendConfigProblems(config) };
  } catch (error) {
    const problems = problemsOf(error);
    try {
      problems.push(...backendConfigProblems(parseNetworkConfig(text, { validate: false })));
    } catch {
      // The config cannot even be decoded: its own problems say why.
    }
    return { problems };
  }
}
