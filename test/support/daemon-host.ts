/** Component-test scaffolding: one Daemon on MemoryKernel over a shared registry, started and stopped by the test. */
import assert from 'node:assert/strict';
import { Daemon, type DaemonDeps } from '../../src/daemon/daemon.js';
import { IFA_F_PERMANENT } from '../../src/dataplane/kernel-objects.js';
import { MemoryKernel } from '../../src/dataplane/memory-kernel.js';
import { Cidr } from '../../src/net/ip.js';
import { EtcdSubnetManager } from '../../src/subnet/etcd-subnet-manager.js';
import { MemoryRegistry } from '../../src/subnet/memory-registry.js';
import type { Registry } from '../../src/subnet/registry.js';
import { silentLogger } from '../../src/support/logger.js';
import { sleep } from '../../src/support/timing.js';

export const HOST_GW_CONFIG = '{"Network":"10.244.0.0/16","Backend":{"Type":"host-gw"}}';
export const VXLAN_CONFIG = '{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}}';

/** A kernel with `eth0` (index 2, MTU 1500) at `ip`/24. */
export function uplinkKernel(ip: string, kernel = new MemoryKernel()): MemoryKernel {
  return kernel.addLink({ index: 2, name: 'eth0', mtu: 1500, up: true }, [{ address: Cidr.parse(`${ip}/24`), scope: 0, flags: IFA_F_PERMANENT }]);
}

export class DaemonHost {
  readonly kernel: MemoryKernel;
  readonly daemon: Daemon;
  subnetEnv = '';
  private readonly controller = new AbortController();
  private running: Promise<void> | undefined;
  /** The error `run()` ended with, if any. */
  failure: unknown;

  constructor(registry: Registry, ip: string, overrides: Partial<DaemonDeps> & { kernel?: MemoryKernel } = {}) {
    this.kernel = uplinkKernel(ip, overrides.kernel);
    this.daemon = new Daemon({
      subnetManager: new EtcdSubnetManager({ registry, logger: silentLogger() }),
      logger: silentLogger(),
      interfaceOptions: { iface: ['eth0'], ifaceRegex: [], ifaceCanReach: '', publicIP: '', publicIPv6: '' },
      ipMasq: false,
      renewMarginMs: 60 * 60_000,
      writeSubnetFile: (contents) => void (this.subnetEnv = contents),
      configRetryMs: 10,
      renewRetryMs: 10,
      ...overrides,
      kernel: this.kernel,
    });
  }

  start(): this {
    this.running = this.daemon.run(this.controller.signal).catch((error: unknown) => void (this.failure = error));
    return this;
  }

  /** Resolves when run() has returned (with or without an error). */
  async finished(): Promise<void> {
    await this.running;
  }

  async stop(): Promise<void> {
    this.controller.abort();
    await this.running;
  }
}

export async function until(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

type HostOverrides = Partial<DaemonDeps> & { kernel?: MemoryKernel };

/**
 * Runs `body` with one started daemon (198.18.0.11) on a fresh MemoryRegistry holding `config`, and stops it
 * afterwards, also when the body fails. `overrides` may depend on the registry (e.g. a wrapping SubnetManager).
 */
export async function withDaemon(
  config: string,
  overrides: HostOverrides | ((registry: MemoryRegistry) => HostOverrides),
  body: (host: DaemonHost, registry: MemoryRegistry) => Promise<void>,
): Promise<void> {
  const registry = new MemoryRegistry();
  registry.setNetworkConfig(config);
  const host = new DaemonHost(registry, '198.18.0.11', typeof overrides === 'function' ? overrides(registry) : overrides).start();
  try {
    await body(host, registry);
  } finally {
    await host.stop();
  }
}
