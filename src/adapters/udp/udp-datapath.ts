/**
 * The udp backend's data path as the daemon sees it: a worker thread that owns the TUN device (`flannel%d`)
 * and the UDP socket (interface address, Port) and forwards packets between them (see datapath-worker.ts and
 * src/backend/udp/udp-forwarder.ts). The daemon:
 * - `start(options)`: resolves once the device and socket are open (first `onDevice` already delivered);
 *   rejects with a FlannelError (EBUSY for a device name held elsewhere, EADDRINUSE for the port…);
 * - `setPeers(peers)` after every lease change, with the whole current peer set; only the difference crosses
 *   to the worker, between batches, so the data path never stalls; returns the peers it left out and why;
 * - `onDevice({ name, index, reopened })`: the device was (re)created; the reconciler owns its address, MTU,
 *   up flag and the Network route, so the daemon marks it dirty (a new device has none of them);
 * - `counters()`: packets, bytes, drops by reason, syscalls and batch sizes, read from shared memory;
 * - `stop()`: ends the worker within one batch (it wakes an idle worker at once); the device vanishes with
 *   its descriptor, as upstream's does. Idempotent.
 */
import { writeSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { type CountersSnapshot, DatapathCounters } from '../../backend/udp/datapath-counters.js';
import { PeerRoutes, type UdpPeer } from '../../backend/udp/peer-routes.js';
import type { IpAddress } from '../../net/ip.js';
import { FlannelError } from '../../support/errors.js';
import { FLAG_CONTROL, FLAG_STOP, FLAG_WORDS, type DatapathWorkerData, type WorkerControl, type WorkerReport } from './datapath-protocol.js';
import * as S from './datapath-syscalls.js';

export const UDP_DEFAULT_PORT = 8285;

export interface UdpDatapathOptions {
  /** Device name or template (upstream: flannel%d, which the kernel resolves to flannel0…). */
  readonly tunName?: string;
  /** Our lease subnet's first address (the device's /32): the source of ICMP net-unreachable replies. */
  readonly tunAddress: IpAddress;
  /** The interface address to bind (upstream binds IfaceAddr, not the public IP). */
  readonly bindAddress: IpAddress;
  /** UDP port, ours and (upstream's rule) every peer's: 8285 by default. */
  readonly port?: number;
  /** The device's MTU (external MTU − 28); sizes the packet buffers. */
  readonly mtu: number;
  /** Packets per syscall batch each way without offloads (default 64). */
  readonly batchSize?: number;
  /**
   * TUN TSO reads and coalesced writes, UDP GSO sends and GRO receives, where the kernel has them (default
   * true). The wire is the same either way: one inner IPv4 packet per datagram.
   */
  readonly offload?: boolean;
  /** SO_RCVBUFFORCE / SO_SNDBUFFORCE (default 8 MiB). */
  readonly socketBufferBytes?: number;
  readonly peers?: readonly UdpPeer[];
  readonly onDevice: (event: TunDeviceEvent) => void;
  /** A device deleted under us that cannot be opened again yet (retried every second), or the worker died. */
  readonly onError: (error: FlannelError) => void;
}

export interface TunDeviceEvent {
  readonly name: string;
  readonly index: number;
  /** False for the device opened at start, true for one opened after the previous was deleted. */
  readonly reopened: boolean;
}

export class UdpDatapath {
  #device: TunDeviceEvent;
  #stopped: Promise<void> | undefined;

  private constructor(
    private readonly worker: Worker,
    private readonly flags: Int32Array,
    private readonly sharedCounters: DatapathCounters,
    private readonly wakeFd: number,
    private readonly peerRoutes: PeerRoutes,
    private readonly exited: Promise<void>,
    device: TunDeviceEvent,
  ) {
    this.#device = device;
  }

  static async start(options: UdpDatapathOptions): Promise<UdpDatapath> {
    S.assertSupportedPlatform();
    if (options.tunAddress.family !== 4 || options.bindAddress.family !== 4) {
      throw new FlannelError('BAD_ADDRESS', `the udp data path needs IPv4 addresses (TUN ${options.tunAddress.toString()}, bind ${options.bindAddress.toString()})`);
    }
    const port = options.port ?? UDP_DEFAULT_PORT;
    const peerRoutes = new PeerRoutes(port);
    const initial = peerRoutes.replace(options.peers ?? []);
    const flags = new Int32Array(new SharedArrayBuffer(FLAG_WORDS * 4));
    const counters = new DatapathCounters();
    const wakeFd = S.check(S.sys.eventfd(0, S.EFD_NONBLOCK | S.EFD_CLOEXEC) as number, 'eventfd');
    const workerData: DatapathWorkerData = {
      flags: flags.buffer as SharedArrayBuffer, counters: counters.values.buffer as SharedArrayBuffer, wakeFd,
      tunName: options.tunName ?? 'flannel%d', tunAddress: Number(options.tunAddress.value), bindAddress: Number(options.bindAddress.value),
      port, batchSize: options.batchSize ?? 64, packetBytes: packetBytesFor(options.mtu), offload: options.offload ?? true,
      socketBufferBytes: options.socketBufferBytes ?? 8 << 20, routes: initial.changes,
    };
    const worker = new Worker(new URL('./datapath-worker.js', import.meta.url), { workerData });
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    let first: TunDeviceEvent | undefined;
    let datapath: UdpDatapath | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        worker.on('error', (error) => (datapath ? options.onError(asFlannelError(error)) : reject(error)));
        worker.on('message', (message: WorkerReport) => {
          if (message.type === 'failed') reject(new FlannelError(message.code, message.message));
          else if (message.type === 'ready') resolve();
          else if (message.type === 'device-error') options.onError(new FlannelError(message.code, message.message, { retryable: true }));
          else {
            const event = { name: message.name, index: message.index, reopened: message.reopened };
            if (datapath) datapath.#device = event;
            else first = event;
            options.onDevice(event);
          }
        });
        exited.then(() => reject(new FlannelError('UDP_DATAPATH_FAILED', 'the udp data path worker exited during start')));
      });
    } catch (error) {
      Atomics.store(flags, FLAG_STOP, 1);
      await exited;
      S.sys.close(wakeFd);
      throw error;
    }
    datapath = new UdpDatapath(worker, flags, counters, wakeFd, peerRoutes, exited, first as TunDeviceEvent);
    return datapath;
  }

  /** The device currently held (name and index change only after someone deleted it). */
  get device(): TunDeviceEvent {
    return this.#device;
  }

  /** Replaces the peer set; returns a line per peer left out (not IPv4, subnet claimed twice…). */
  setPeers(peers: readonly UdpPeer[]): readonly string[] {
    const update = this.peerRoutes.replace(peers);
    if (this.#stopped) return update.problems;
    if (update.changes.set.length > 0 || update.changes.remove.length > 0) {
      const control: WorkerControl = { type: 'routes', changes: update.changes };
      this.worker.postMessage(control);
      Atomics.store(this.flags, FLAG_CONTROL, 1);
      this.#wake();
    }
    return update.problems;
  }

  counters(): CountersSnapshot {
    return this.sharedCounters.snapshot();
  }

  stop(): Promise<void> {
    this.#stopped ??= (async () => {
      Atomics.store(this.flags, FLAG_STOP, 1);
      this.#wake();
      await this.exited;
      S.sys.close(this.wakeFd);
    })();
    return this.#stopped;
  }

  #wake(): void {
    const one = Buffer.alloc(8);
    one.writeBigUInt64LE(1n);
    writeSync(this.wakeFd, one);
  }
}

/**
 * Packet slots: above the MTU (a read that fills its slot counts as cut), at least 2 KiB, so a TUN MTU raised
 * behind our back still fits up to there.
 */
function packetBytesFor(mtu: number): number {
  return Math.max(2048, Math.ceil((mtu + 1) / 64) * 64);
}

function asFlannelError(error: unknown): FlannelError {
  return error instanceof FlannelError ? error : new FlannelError('UDP_DATAPATH_FAILED', String(error), { cause: error });
}
