import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMetricsService } from '../../src/metrics/metrics-service.js';
import { Cidr, type IpFamily } from '../../src/net/ip.js';
import { silentLogger } from '../../src/support/logger.js';
import { sleep } from '../../src/support/timing.js';
import type { Firewall } from '../../src/traffic/firewall.js';
import { FirewallReconciler } from '../../src/traffic/firewall-reconciler.js';
import { type TrafficSpec, iptablesTables } from '../../src/traffic/traffic-rules.js';

/** A firewall whose "kernel" is a map of text; `tamper` plays someone editing the rules. */
class TextFirewall implements Firewall {
  readonly mode = 'iptables' as const;
  readonly rules = new Map<IpFamily, string>();
  writes = 0;
  reads = 0;
  /** Runs once right after the next write (someone editing the rules between our write and our read-back). */
  afterWrite: (() => void) | undefined;
  async read(family: IpFamily): Promise<string> {
    this.reads++;
    return this.rules.get(family) ?? '';
  }
  async write(spec: TrafficSpec): Promise<void> {
    this.writes++;
    this.rules.set(spec.family, iptablesTables(spec).flatMap((table) => [table.jump, ...table.rules]).join('\n'));
    const racer = this.afterWrite;
    this.afterWrite = undefined;
    racer?.();
  }
  async remove(family: IpFamily): Promise<void> {
    this.rules.delete(family);
  }
  async supportsRandomFully(): Promise<boolean> {
    return true;
  }
}

const spec: TrafficSpec = { family: 4, network: Cidr.parse('10.244.0.0/16'), subnet: Cidr.parse('10.244.1.0/24'), ipMasq: true, forwardRules: true, randomFully: true };

describe('FirewallReconciler', () => {
  it('writes at start, stays quiet while nothing changed, rewrites on drift and on a new lease', async () => {
    const firewall = new TextFirewall();
    let current = spec;
    const reconciler = new FirewallReconciler({ firewall, specs: () => [current], logger: silentLogger(), resyncMs: 1000 });
    assert.equal(await reconciler.pass(), 1, 'first pass writes');
    assert.equal(await reconciler.pass(), 0);
    assert.equal(await reconciler.pass(), 0);
    assert.equal(firewall.writes, 1, 'quiet passes only read');
    firewall.rules.set(4, (firewall.rules.get(4) ?? '').split('\n').reverse().join('\n'));
    assert.equal(await reconciler.pass(), 1, 'reordered rules are drift');
    firewall.rules.delete(4);
    assert.equal(await reconciler.pass(), 1, 'deleted rules are drift');
    current = { ...spec, subnet: Cidr.parse('10.244.9.0/24') };
    assert.equal(await reconciler.pass(), 1, 'a new lease changes what is wanted');
    assert.match(firewall.rules.get(4) ?? '', /-s 10\.244\.9\.0\/24 -d 10\.244\.0\.0\/16/);
    assert.equal(await reconciler.pass(), 0);
    assert.equal(reconciler.writes, 4);
  });
  it('resyncs every resyncMs while rules are wanted, and not at all when none are (until marked dirty)', async () => {
    const cases: ReadonlyArray<[string, TrafficSpec, boolean]> = [
      ['masquerade wanted', spec, true],
      ['nothing wanted', { ...spec, ipMasq: false, forwardRules: false }, false],
    ];
    for (const [name, wanted, resyncs] of cases) {
      const firewall = new TextFirewall();
      const reconciler = new FirewallReconciler({ firewall, specs: () => [wanted], logger: silentLogger(), resyncMs: 10 });
      await reconciler.pass();
      const stop = new AbortController();
      const running = reconciler.run(stop.signal);
      await sleep(120);
      const idleReads = firewall.reads;
      reconciler.markDirty();
      await sleep(20);
      stop.abort();
      await running;
      if (resyncs) assert.ok(idleReads >= 4, `${name}: ${idleReads} reads in 120 ms at a 10 ms resync`);
      else assert.equal(idleReads, 1, `${name}: only the first pass read the tables`);
      assert.ok(firewall.reads > idleReads, `${name}: markDirty() runs a pass`);
    }
  });
  it('an edit racing a drift repair is repaired too, not taken for what we wrote', async () => {
    const firewall = new TextFirewall();
    const reconciler = new FirewallReconciler({ firewall, specs: () => [spec], logger: silentLogger(), resyncMs: 1000 });
    await reconciler.pass();
    const good = firewall.rules.get(4);
    const reorder = () => firewall.rules.set(4, (firewall.rules.get(4) ?? '').split('\n').reverse().join('\n'));
    firewall.rules.delete(4);
    firewall.afterWrite = reorder;
    assert.equal(await reconciler.pass(), 1, 'the deletion is repaired; the reorder lands right after');
    assert.notEqual(firewall.rules.get(4), good);
    assert.equal(await reconciler.pass(), 1, 'the next pass sees the reorder as drift');
    assert.equal(firewall.rules.get(4), good);
    assert.equal(await reconciler.pass(), 0);
  });
  it('counts every transaction by mode, family and reason, and failures; state keeps the last failure until a pass succeeds', async () => {
    const firewall = new TextFirewall();
    const { metrics, registry } = createMetricsService({ version: 'test' });
    let current = spec;
    let now = 1000;
    const reconciler = new FirewallReconciler({ firewall, specs: () => [current], logger: silentLogger(), resyncMs: 1000, metrics: metrics.firewall, now: () => now });
    await reconciler.pass();
    now = 2000;
    firewall.rules.delete(4);
    await reconciler.pass();
    current = { ...spec, subnet: Cidr.parse('10.244.9.0/24') };
    await reconciler.pass();
    await reconciler.pass();
    const writes = (reason: string) => registry.value('flannel_firewall_writes_total', { mode: 'iptables', family: '4', reason });
    assert.deepEqual([writes('start'), writes('drift'), writes('changed')], [1, 1, 1]);
    assert.deepEqual({ ...reconciler.state }, { writes: 3, lastWriteAtMs: 2000 });
    firewall.read = async () => {
      throw new Error('iptables-save: exit status 4');
    };
    await assert.rejects(reconciler.pass(), /exit status 4/);
    assert.equal(registry.value('flannel_firewall_write_failures_total', { mode: 'iptables' }), 1);
    assert.equal(reconciler.state.lastError, 'iptables-save: exit status 4');
    firewall.read = TextFirewall.prototype.read;
    await reconciler.pass();
    assert.equal(reconciler.state.lastError, undefined);
  });
});
