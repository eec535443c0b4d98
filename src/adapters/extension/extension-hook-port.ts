/**
 * The ExtensionHookPort flanneld's extension backend runs its hooks through: hook-runner.ts with flanneld's own
 * environment, which is both what `$VAR` in a command expands from and what the hook process inherits (plus the
 * hook's variables), as upstream's runCmd does with os.Environ().
 */
import type { ExtensionHookPort } from '../../backend/data-path-ports.js';
import { runHook } from './hook-runner.js';

export function createExtensionHookPort(environment: NodeJS.ProcessEnv = process.env): ExtensionHookPort {
  return { environment, run: (invocation, options) => runHook(invocation, { ...options, environment }) };
}
