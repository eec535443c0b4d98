/** I/O stays in the adapters: pure modules may not import the modules that touch the machine. */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', '..');
const IO_MODULES = ['node:fs', 'node:child_process', 'node:dgram', 'node:net', 'node:http', 'node:http2', 'node:https', 'node:worker_threads', 'koffi'];
const IO_ALLOWED = ['src/adapters/', 'src/cmd/', 'src/lab/'];

describe('architecture', () => {
  it('only adapters, commands and the lab import I/O modules', () => {
    const offenders: string[] = [];
    const sources = readdirSync(join(root, 'src'), { recursive: true }).map(String).filter((file) => file.endsWith('.ts'));
    assert.ok(sources.length > 20, `found ${sources.length} source files under ${root}/src`);
    for (const file of sources) {
      const path = `src/${file}`;
      if (IO_ALLOWED.some((prefix) => path.startsWith(prefix))) continue;
      const text = readFileSync(join(root, path), 'utf8');
      for (const module of IO_MODULES) {
        if (text.includes(`from '${module}'`)) offenders.push(`${relative(root, join(root, path))} imports ${module}`);
      }
    }
    assert.deepEqual(offenders, []);
  });
  it('process.exit appears only in src/cmd', () => {
    const sources = readdirSync(join(root, 'src'), { recursive: true }).map(String).filter((file) => file.endsWith('.ts') && !file.startsWith('cmd/'));
    const offenders = sources.filter((file) => readFileSync(join(root, 'src', file), 'utf8').includes('process.exit('));
    assert.deepEqual(offenders, []);
  });
});
