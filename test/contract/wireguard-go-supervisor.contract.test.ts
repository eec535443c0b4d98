/**
 * The wireguard-go supervisor against the real wireguard-go: start, restart after a kill (a new pid, onReady
 * again, an empty device the caller reconfigures), removal of a stale socket, adoption of a wireguard-go left
 * running, and a clean stop on abort.
 */
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { UapiWireguardControl } from '../../src/adapters/wireguard/uapi-wireguard-control.js';
import { WireguardGoSupervisor } from '../../src/adapters/wireguard/wireguard-go-supervisor.js';
import { WireguardKey } from '../../src/backend/wireguard/wireguard-key.js';
import { processAlive } from '../../src/lab/shell.js';
import { silentLogger } from '../../src/support/logger.js';
import { Backoff, sleep } from '../../src/support/timing.js';
import { RUN_DIRECTORY, releaseWireguardRunDirectory, useOwnWireguardRunDirectory } from '../support/wireguard-run-directory.js';

const control = new UapiWireguardControl({ runDirectory: RUN_DIRECTORY });

/** A supervisor whose onReady calls are counted; `ready(n)` waits for the n-th. */
function supervise(device: string) {
  let readyCount = 0;
  const abort = new AbortController();
  const supervisor = new WireguardGoSupervisor({
    device, logger: silentLogger(), runDirectory: RUN_DIRECTORY, restartBackoff: new Backoff(100, 200), onReady: () => void readyCount++,
  });
  const done = supervisor.run(abort.signal);
  return {
    supervisor, abort, done,
    async ready(count: number): Promise<void> {
      for (let waited = 0; readyCount < count; waited += 20) {
        if (waited > 10_000) assert.fail(`onReady called ${readyCount} times, waited for ${count}`);
        await sleep(20);
      }
    },
  };
}

describe('wireguard-go supervisor', () => {
  before(useOwnWireguardRunDirectory);
  after(releaseWireguardRunDirectory);

  it('restarts a killed wireguard-go; the new one answers and is configurable', async () => {
    const run = supervise('wgsv0');
    await run.ready(1);
    const firstPid = run.supervisor.pid;
    assert.ok(firstPid && processAlive(firstPid));
    await control.configureDevice('wgsv0', { listenPort: 51900 });
    process.kill(firstPid, 'SIGKILL');
    await run.ready(2);
    assert.notEqual(run.supervisor.pid, firstPid);
    assert.equal(run.supervisor.starts, 2);
    const fresh = await control.getDevice('wgsv0');
    assert.notEqual(fresh?.listenPort, 51900, 'a restarted wireguard-go starts empty: the caller configures it again');
    await control.configureDevice('wgsv0', { privateKey: WireguardKey.generatePrivate(), listenPort: 51900 });
    assert.equal((await control.getDevice('wgsv0'))?.listenPort, 51900);
    const lastPid = run.supervisor.pid;
    run.abort.abort();
    await run.done;
    assert.ok(lastPid && !processAlive(lastPid), 'stopped on abort');
    assert.ok(!existsSync(control.socketPath('wgsv0')));
  });
  it('removes a stale socket file and starts', async () => {
    writeFileSync(control.socketPath('wgsv1'), '');
    const run = supervise('wgsv1');
    await run.ready(1);
    assert.ok(await control.getDevice('wgsv1'));
    run.abort.abort();
    await run.done;
  });
  it('adopts a wireguard-go that already answers, and takes over when it dies', async () => {
    const first = supervise('wgsv2');
    await first.ready(1);
    const adoptedPid = first.supervisor.pid;
    const second = supervise('wgsv2');
    await second.ready(1);
    assert.equal(second.supervisor.starts, 0, 'adopted, not replaced');
    assert.equal(second.supervisor.pid, undefined);
    first.abort.abort(); // the first supervisor stops its child: the adopter must start its own
    await first.done;
    assert.ok(adoptedPid && !processAlive(adoptedPid));
    await second.ready(2);
    assert.equal(second.supervisor.starts, 1);
    assert.ok(await control.getDevice('wgsv2'));
    second.abort.abort();
    await second.done;
  });
  it('keeps retrying a binary that cannot start, and stops when aborted', async () => {
    const abort = new AbortController();
    const supervisor = new WireguardGoSupervisor({
      device: 'wgsv3', logger: silentLogger(), runDirectory: RUN_DIRECTORY, command: '/nonexistent/wireguard-go',
      restartBackoff: new Backoff(50, 50), onReady: () => assert.fail('never ready'),
    });
    const done = supervisor.run(abort.signal);
    for (let waited = 0; supervisor.starts < 3 && waited < 5000; waited += 20) await sleep(20);
    assert.ok(supervisor.starts >= 3, `retried (${supervisor.starts} starts)`);
    abort.abort();
    await done;
  });
});
