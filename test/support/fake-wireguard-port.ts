/**
 * A WireguardPort double over a MemoryKernel and a MemoryWireguardControl, behaving as the real
 * implementations do towards the daemon:
 * - userspace: "wireguard-go" makes its device a TUN link (MTU 1420, down, as wireguard-go does) and an empty
 *   WireGuard device, then calls onReady (a device that exists already is adopted as it is); `killWireguardGo(name)` removes both (onExit) and it comes back after
 *   `restartMs` with a new link index and an empty device;
 * - kernel: the WireGuard device exists exactly while a `wireguard` link of its name does; a link created again
 *   (new index) is a new, empty device.
 */
import type { LoadedWireguardKey, WireguardPort, WireguardUserspaceOptions } from '../../src/backend/data-path-ports.js';
import { MemoryWireguardControl } from '../../src/backend/wireguard/memory-wireguard-control.js';
import type { WireguardControl, WireguardDeviceChange, WireguardDeviceState } from '../../src/backend/wireguard/wireguard-control.js';
import type { WireguardHostSupport } from '../../src/backend/wireguard/wireguard-implementation.js';
import { WireguardKey } from '../../src/backend/wireguard/wireguard-key.js';
import type { MemoryKernel } from '../../src/dataplane/memory-kernel.js';
import { sleep } from '../../src/support/timing.js';

export class FakeWireguardPort implements WireguardPort {
  readonly devices = new MemoryWireguardControl();
  readonly privateKey: WireguardKey;
  /** Each fake wireguard-go start, by device. */
  readonly starts = new Map<string, number>();
  private readonly kills = new Map<string, () => void>();
  private nextIndex = 300;
  /** Kernel links the WireGuard device was made for (name → index). */
  private readonly kernelLinks = new Map<string, number>();

  constructor(
    private readonly kernel: () => MemoryKernel,
    private readonly support: WireguardHostSupport,
    seed: number,
    private readonly restartMs = 10,
  ) {
    this.privateKey = WireguardKey.generatePrivate(() => Buffer.alloc(32, seed));
  }

  hostSupport(): WireguardHostSupport {
    return this.support;
  }

  loadPrivateKey(): LoadedWireguardKey {
    return { privateKey: this.privateKey, path: '/test/wgkey', created: false, warnings: [] };
  }

  control(implementation: 'kernel' | 'userspace'): WireguardControl {
    if (implementation === 'userspace') return this.devices;
    const follow = (name: string) => this.followKernelLink(name);
    return {
      getDevice: async (name: string): Promise<WireguardDeviceState | undefined> => {
        follow(name);
        return this.devices.getDevice(name);
      },
      configureDevice: async (name: string, change: WireguardDeviceChange): Promise<void> => {
        follow(name);
        return this.devices.configureDevice(name, change);
      },
    };
  }

  async runUserspace(options: WireguardUserspaceOptions, signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      // A device that exists already belongs to a wireguard-go left running by a previous flanneld: adopted.
      if (!(await this.devices.getDevice(options.device))) {
        const index = this.nextIndex++;
        this.kernel().addLink({ index, name: options.device, mtu: 1420, up: false, kind: 'tun', tun: { type: 'tun' } });
        this.devices.createDevice(options.device, 40000 + index);
        this.starts.set(options.device, (this.starts.get(options.device) ?? 0) + 1);
      }
      options.onReady();
      await new Promise<void>((resolve) => {
        this.kills.set(options.device, resolve);
        signal.addEventListener('abort', () => resolve(), { once: true });
      });
      this.kills.delete(options.device);
      this.kernel().deleteLinkByHand(options.device);
      this.devices.deleteDevice(options.device);
      if (signal.aborted) return;
      options.onExit();
      await sleep(this.restartMs, signal);
    }
  }

  /** SIGKILL of the fake wireguard-go running `device`. */
  killWireguardGo(device: string): void {
    this.kills.get(device)?.();
  }

  /** The kernel's WireGuard device follows its link: gone with it, empty when the link is new. */
  private followKernelLink(name: string): void {
    const link = [...this.kernel().links.values()].find((candidate) => candidate.name === name && candidate.kind === 'wireguard');
    if (this.kernelLinks.get(name) === link?.index) return;
    this.devices.deleteDevice(name);
    if (link) {
      this.devices.createDevice(name);
      this.kernelLinks.set(name, link.index);
    } else {
      this.kernelLinks.delete(name);
    }
  }
}
