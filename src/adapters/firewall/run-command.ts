/** Runs a firewall tool asynchronously with optional stdin; rejects with a FlannelError naming the command and stderr. */
import { execFile } from 'node:child_process';
import { FlannelError } from '../../support/errors.js';

export function runCommand(command: string, args: readonly string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(command, [...args], { timeout: 30_000, maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      if (error) {
        const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
        reject(new FlannelError(missing ? 'FIREWALL_TOOL_MISSING' : 'FIREWALL_COMMAND', `${command} ${args.join(' ')}: ${missing ? 'not installed' : (stderr || error.message).trim()}`, { retryable: !missing }));
        return;
      }
      resolve(stdout);
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}
