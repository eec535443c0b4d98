import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createExtensionHookPort } from '../../src/adapters/extension/extension-hook-port.js';
import { ExtensionPeerHooks } from '../../src/backend/extension/extension-peer-hooks.js';
import { preStartupInvocation } from '../../src/backend/extension/extension-hooks.js';
import { parseExtensionOptions } from '../../src/backend/extension/extension-options.js';
import type { Lease } from '../../src/lease/lease.js';
import { Cidr, IpAddress } from '../../src/net/ip.js';
import { captureLogger } from '../support/capture-logger.js';

const dir = mkdtempSync(join(tmpdir(), 'flannel-ext-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const script = join(dir, 'hook.sh');
writeFileSync(script, 'read data; echo "$1 $SUBNET $PUBLIC_IP stdin=$data" >> "$LOG"; [ "$SUBNET" != 10.244.9.0/24 ] || { echo broken >&2; exit 4; }\n');
const peer = (subnet: string, publicIP: string, data?: unknown): Lease => ({
  subnet: Cidr.parse(subnet), attrs: { publicIP: IpAddress.parse(publicIP), backendType: 'extension', ...(data !== undefined ? { backendData: data } : {}) },
});

describe('extension peer hooks', () => {
  it('runs SubnetRemove then SubnetAdd for the changes only, logs failures and goes on', async () => {
    const log = join(dir, 'calls.log');
    const { logger, messages } = captureLogger();
    const hooks = new ExtensionPeerHooks({
      options: parseExtensionOptions({ SubnetAddCommand: `sh ${script} add`, SubnetRemoveCommand: `sh ${script} remove` }),
      logger, hooks: createExtensionHookPort({ PATH: process.env.PATH ?? '', LOG: log }),
    });
    const b = peer('10.244.2.0/24', '198.18.0.12', 'b-data');
    const broken = peer('10.244.9.0/24', '198.18.0.19');
    const c = peer('10.244.3.0/24', '198.18.0.13', { not: 'a string' });
    await hooks.update([b, broken, c]);
    await hooks.update([peer('10.244.2.0/24', '198.18.0.12', 'b-data'), broken, c]); // nothing changed: nothing runs
    await hooks.update([peer('10.244.4.0/24', '198.18.0.14')]);
    assert.deepEqual(readFileSync(log, 'utf8').trim().split('\n'), [
      'add 10.244.2.0/24 198.18.0.12 stdin=b-data',
      'add 10.244.9.0/24 198.18.0.19 stdin=',
      'remove 10.244.2.0/24 198.18.0.12 stdin=b-data',
      'remove 10.244.9.0/24 198.18.0.19 stdin=',
      'add 10.244.4.0/24 198.18.0.14 stdin=',
    ]);
    assert.deepEqual(messages('failed to run command').map((line) => [line.command, line.error, line.output]), [[`sh ${script} add`, 'exit status 4', 'broken'], [`sh ${script} remove`, 'exit status 4', 'broken']]);
    assert.equal(messages('failed to unmarshal BackendData').length, 2, 'a peer whose BackendData is not a string: skipped, said so (add and remove)');
    assert.equal(messages('ran command').length, 3);
  });
  it('startup hooks: output on success, upstream\'s fatal message on failure', async () => {
    const { logger } = captureLogger();
    const ok = new ExtensionPeerHooks({ options: parseExtensionOptions({}), logger, hooks: createExtensionHookPort({ ...process.env, LC_ALL: 'C' }) });
    const options = parseExtensionOptions({ PreStartupCommand: 'echo  {"a":1}  ' });
    assert.equal(await ok.startup(preStartupInvocation(options, {})!), '{"a":1}');
    const failing = parseExtensionOptions({ PreStartupCommand: 'ls /nonexistent-flannel-dir' });
    await assert.rejects(ok.startup(preStartupInvocation(failing, {})!), {
      code: 'EXTENSION_HOOK', message: /^failed to run command: ls \/nonexistent-flannel-dir Err: exit status 2 Output: ls: cannot access/,
    });
  });
  it('serializes updates, and one failing call does not stop the next', async () => {
    const { logger } = captureLogger();
    const order: string[] = [];
    let calls = 0;
    const hooks = new ExtensionPeerHooks({
      options: parseExtensionOptions({ SubnetAddCommand: 'add $SUBNET' }), logger, hooks: { environment: {}, run: async (invocation) => {
        if (calls++ === 0) throw new Error('runner broke');
        order.push(`start ${invocation.argv[1]}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
        order.push(`end ${invocation.argv[1]}`);
        return { ok: true, output: '' };
      } },
    });
    const first = hooks.update([peer('10.244.2.0/24', '198.18.0.12')]);
    const second = hooks.update([peer('10.244.2.0/24', '198.18.0.12'), peer('10.244.3.0/24', '198.18.0.13')]);
    const third = hooks.update([peer('10.244.2.0/24', '198.18.0.12'), peer('10.244.3.0/24', '198.18.0.13'), peer('10.244.4.0/24', '198.18.0.14')]);
    await assert.rejects(first, /runner broke/);
    await second;
    await third;
    assert.deepEqual(order, ['start 10.244.3.0/24', 'end 10.244.3.0/24', 'start 10.244.4.0/24', 'end 10.244.4.0/24']);
  });
});
