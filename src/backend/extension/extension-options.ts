/**
 * The extension Backend options (reference §5.8): `PreStartupCommand`, `PostStartupCommand`,
 * `SubnetAddCommand`, `SubnetRemoveCommand`, each a command line (split on white space, no shell); absent or
 * empty means "no hook". Keys are case-insensitive as Go decodes them; other keys (`ShutdownCommand` in
 * upstream's dist/extension-* examples) are ignored, as upstream does. Stricter than upstream where upstream
 * fails badly: a command of only white space has no program (upstream indexes an empty argv and panics).
 * Pure.
 */
import type { NetworkConfig } from '../../config/network-config.js';
import { ValidationError } from '../../support/errors.js';
import { pickFields } from '../../support/json-fields.js';
import { goFields } from './go-command-line.js';

export const EXTENSION = 'extension';

export interface ExtensionOptions {
  readonly preStartupCommand: string;
  readonly postStartupCommand: string;
  readonly subnetAddCommand: string;
  readonly subnetRemoveCommand: string;
}

const FIELDS = ['PreStartupCommand', 'PostStartupCommand', 'SubnetAddCommand', 'SubnetRemoveCommand'] as const;

export function parseExtensionOptions(backend: Readonly<Record<string, unknown>> | undefined): ExtensionOptions {
  const { options, problems } = decodeExtensionOptions(backend);
  if (problems.length > 0) throw new ValidationError(problems, 'extension backend config');
  return options;
}

export function checkExtensionConfig(config: Pick<NetworkConfig, 'backend'>): string[] {
  return decodeExtensionOptions(config.backend).problems;
}

function decodeExtensionOptions(backend: Readonly<Record<string, unknown>> | undefined): { options: ExtensionOptions; problems: string[] } {
  const raw = pickFields(backend ?? {}, FIELDS);
  const problems: string[] = [];
  const command = (field: (typeof FIELDS)[number]): string => {
    const value = raw[field];
    if (value === undefined || value === null) return '';
    if (typeof value !== 'string') {
      problems.push(`Backend.${field}: expected a command line (a string), got ${JSON.stringify(value)}`);
      return '';
    }
    if (value !== '' && goFields(value).length === 0) problems.push(`Backend.${field}: ${JSON.stringify(value)} has no program to run`);
    return value;
  };
  return {
    options: {
      preStartupCommand: command('PreStartupCommand'),
      postStartupCommand: command('PostStartupCommand'),
      subnetAddCommand: command('SubnetAddCommand'),
      subnetRemoveCommand: command('SubnetRemoveCommand'),
    },
    problems,
  };
}
