/**
 * The ports a backend's data path receives (DataPathContext.adapters). Interfaces only: the adapters that
 * implement them live in src/adapters/ and are wired in src/cmd/flanneld.ts; tests pass doubles. Every port is
 * optional in DataPathAdapters, so a backend that needs one it did not get fails at start with a clear error
 * (`requireAdapter`) instead of running half a data path.
 */
import type { Cidr, IpAddress } from '../net/ip.js';
import { FlannelError } from '../support/errors.js';
import type { Logger } from '../support/logger.js';
import type { HookInvocation } from './extension/extension-hooks.js';
import type { WireguardControl } from './wireguard/wireguard-control.js';
import type { ChosenWireguardImplementation, WireguardHostSupport } from './wireguard/wireguard-implementation.js';
import type { WireguardKey } from './wireguard/wireguard-key.js';

// ---- udp: the TUN/UDP forwarder (runs off the main thread) ----

/** A peer as the forwarder sees it: its lease subnet and public IPv4 address. */
export interface UdpForwarderPeer {
  readonly subnet: Cidr;
  readonly publicIp: IpAddress;
  /** The peer's UDP port; upstream sends to its own configured Port, so that is the default. */
  readonly port?: number;
}

export interface UdpDeviceEvent {
  readonly name: string;
  readonly index: number;
  /** False for the device opened at start, true for one opened again after the previous was deleted. */
  readonly reopened: boolean;
}

export interface UdpForwarderOptions {
  /** The TUN device's name, as the plan names it (the reconciler waits for exactly that name). */
  readonly tunName: string;
  /** Our subnet's first address (the device's /32): the source of ICMP net-unreachable replies. */
  readonly tunAddress: IpAddress;
  /** The interface address to bind (upstream binds the interface address, not the public IP). */
  readonly bindAddress: IpAddress;
  readonly port: number;
  /** The device's MTU (sizes the packet buffers). */
  readonly mtu: number;
  readonly peers: readonly UdpForwarderPeer[];
  /** The device was opened (at start) or opened again (after someone deleted it). */
  readonly onDevice: (event: UdpDeviceEvent) => void;
  /**
   * A device deleted under the forwarder that cannot be opened again yet (a FlannelError with `retryable`,
   * repeated every second while it lasts), or the forwarder died (any other error: it forwards nothing more).
   */
  readonly onError: (error: Error) => void;
}

export interface RunningUdpForwarder {
  /** The whole current peer set; only the difference reaches the forwarder. Returns the peers left out, each with why. */
  setPeers(peers: readonly UdpForwarderPeer[]): readonly string[];
  /** Packets, bytes, drops by reason, syscalls, batch sizes (totals since start; names in datapath-counters.ts). */
  counters(): Readonly<Record<string, number>>;
  /** Stops the forwarder (its TUN goes with its descriptor). Idempotent. */
  stop(): Promise<void>;
}

export interface UdpForwarderPort {
  /** Opens the TUN and the socket; resolves once both are open (the first `onDevice` already delivered). */
  start(options: UdpForwarderOptions): Promise<RunningUdpForwarder>;
}

// ---- wireguard: the key file, the two device implementations, wireguard-go's supervision ----

/** The private key as read from (or first written to) the key file. */
export interface LoadedWireguardKey {
  readonly privateKey: WireguardKey;
  readonly path: string;
  /** True when this start created the file. */
  readonly created: boolean;
  /** Worth a warning (a key file others can read). */
  readonly warnings: readonly string[];
}

export interface WireguardUserspaceOptions {
  readonly device: string;
  /** The wireguard-go binary (WireguardHostSupport.userspaceCommand). */
  readonly command: string;
  readonly logger: Logger;
  /** A (new) wireguard-go answers for the device: its TUN exists, empty (no key, no peers). */
  readonly onReady: () => void;
  /** The running wireguard-go exited (its TUN went with it); it is started again after a backoff. */
  readonly onExit: () => void;
}

export interface WireguardPort {
  /** What this host offers: the kernel's WireGuard, the wireguard-go binary. Never throws. */
  hostSupport(): WireguardHostSupport;
  /**
   * Our private key from the key file (WIREGUARD_KEY_FILE, else /run/flannel/wgkey), created with mode 0400
   * when missing and kept across restarts. Throws FlannelError naming the path and the reason.
   */
  loadPrivateKey(): LoadedWireguardKey;
  /** Reads and configures devices of the chosen implementation (generic netlink or wireguard-go's UAPI). */
  control(implementation: ChosenWireguardImplementation): WireguardControl;
  /** Runs wireguard-go for one device until `signal` aborts, starting it again whenever it exits; stops it on abort. */
  runUserspace(options: WireguardUserspaceOptions, signal: AbortSignal): Promise<void>;
}

// ---- extension: running the configured commands ----

export interface ExtensionHookResult {
  readonly ok: boolean;
  /** Combined stdout and stderr, trimmed. */
  readonly output: string;
  /** Go's error text when !ok (`exit status 3`, …). */
  readonly error?: string;
}

export interface ExtensionHookPort {
  /** The environment hooks start from and expand `$VAR` with (flanneld's own, as upstream's os.Environ()). */
  readonly environment: Readonly<Record<string, string | undefined>>;
  /** Runs one hook as upstream's runCmd does (no shell; the invocation's env and stdin); never rejects. */
  run(invocation: HookInvocation, options: { readonly environment?: NodeJS.ProcessEnv; readonly signal?: AbortSignal; readonly timeoutMs?: number }): Promise<ExtensionHookResult>;
}

/**
 * Every data-path port the composition root can offer; each backend uses the ones it needs. A slice that brings
 * a data path adds its port here as an optional member and wires it in flanneld.ts. Backends whose factory
 * needs a port at start (wireguard's key file) get these through BackendContext.adapters too.
 */
export interface DataPathAdapters {
  readonly udpForwarder?: UdpForwarderPort;
  readonly wireguard?: WireguardPort;
  readonly extensionHooks?: ExtensionHookPort;
}

/** The port `name`, or a FlannelError (NO_ADAPTER) naming the backend that needs it. */
export function requireAdapter<K extends keyof DataPathAdapters>(adapters: DataPathAdapters, name: K, backend: string): NonNullable<DataPathAdapters[K]> {
  const adapter = adapters[name];
  if (adapter === undefined) throw new FlannelError('NO_ADAPTER', `the ${backend} backend needs the ${name} adapter, which this flanneld was not built with`);
  return adapter as NonNullable<DataPathAdapters[K]>;
}
