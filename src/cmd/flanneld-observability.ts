/**
 * flanneld's observability put together (issue 12), so that flanneld.ts wires it in a few lines:
 * - one MetricsService for the process (process metrics from /proc), whose `metrics` the composition root hands
 *   to the registry client and the daemon (which passes them on to its reconciler and firewall), and whose
 *   `render` serves `/metrics` on the health server and on the status socket;
 * - the status socket (`--status-socket`, '' disables) with the daemon as its StatusProvider;
 * - datapath health (`--datapath-probe-interval` seconds, 0 disables): overlay probes to a few peers per round
 *   from a raw ICMP socket, a log line and `flannel_peers_unreachable` when peers stop answering. It says
 *   nothing to /readyz, which stays about this host (see src/ops/probe/datapath-health.ts).
 * A part that cannot start (no root for the raw socket, the socket path taken by another flanneld) is logged
 * and left out; flanneld runs on without it. `close()` stops what `start` started and awaits it.
 */
import { readTextIfExists } from '../adapters/files/atomic-file.js';
import { type StatusSocket, startStatusSocket } from '../adapters/http/status-socket.js';
import { RawSocketProber } from '../adapters/probe/raw-socket-prober.js';
import { ProcProcessStats } from '../adapters/process/proc-process-stats.js';
import type { Daemon } from '../daemon/daemon.js';
import type { DaemonStatusInputs } from '../daemon/daemon-status.js';
import type { FlannelMetrics } from '../metrics/flannel-metrics.js';
import { createMetricsService } from '../metrics/metrics-service.js';
import { DatapathHealth } from '../ops/probe/datapath-health.js';
import { systemClock } from '../support/clock.js';
import { errorMessage } from '../support/errors.js';
import type { Logger } from '../support/logger.js';
import { VERSION } from '../version.js';

export interface ObservabilityOptions {
  /** '' disables the status socket. */
  readonly statusSocket: string;
  readonly subnetFile: string;
  /** Seconds between datapath health rounds; 0 disables it. */
  readonly probeIntervalSeconds: number;
}

export class FlanneldObservability {
  readonly metrics: FlannelMetrics;
  /** The Prometheus page, for the health server's `/metrics`. */
  readonly render: () => string;
  private socket: StatusSocket | undefined;
  private health: { monitor: DatapathHealth; prober: RawSocketProber; running: Promise<void> } | undefined;

  constructor(
    private readonly options: ObservabilityOptions,
    private readonly logger: Logger,
  ) {
    const service = createMetricsService({ version: VERSION, processStats: new ProcProcessStats() });
    this.metrics = service.metrics;
    this.render = service.render;
  }

  /** What the daemon's status facts need from here (DaemonDeps.status). */
  statusInputs(): DaemonStatusInputs {
    const { subnetFile } = this.options;
    return {
      version: VERSION, pid: process.pid, startedAtMs: Date.now() - process.uptime() * 1000, subnetFilePath: subnetFile,
      readSubnetFile: () => readTextIfExists(subnetFile),
      datapath: () => this.health && { watched: this.health.monitor.watched, unreachable: this.health.monitor.unreachable() },
    };
  }

  /** Starts the status socket and datapath health for `daemon`; never throws (a part that fails is logged and left out). */
  async start(daemon: Daemon, signal: AbortSignal): Promise<void> {
    const { statusSocket, probeIntervalSeconds } = this.options;
    if (statusSocket !== '') {
      try {
        this.socket = await startStatusSocket(statusSocket, {
          provider: daemon, metrics: this.render, clock: systemClock, onError: (message) => this.logger.error({ err: message }, 'status socket error'),
        });
        this.logger.info({ path: statusSocket }, 'status socket listening');
      } catch (error) {
        this.logger.error({ err: errorMessage(error), path: statusSocket }, 'no status socket; flannelctl status, trace and doctor cannot reach this flanneld');
      }
    }
    if (probeIntervalSeconds > 0) {
      let prober: RawSocketProber;
      try {
        prober = RawSocketProber.open();
      } catch (error) {
        this.logger.warn({ err: errorMessage(error) }, 'datapath health disabled: cannot open a raw ICMP socket');
        return;
      }
      const monitor = new DatapathHealth({
        prober, current: () => daemon.probeTargets(), metrics: this.metrics.datapath.probes, clock: systemClock,
        logger: this.logger.child({ component: 'datapath-health' }), intervalMs: probeIntervalSeconds * 1000,
      });
      this.health = { monitor, prober, running: monitor.run(signal) };
    }
  }

  /** Stops the status socket and awaits datapath health (which ends with `signal` given to `start`). */
  async close(): Promise<void> {
    await this.socket?.close();
    if (this.health) {
      await this.health.running;
      await this.health.prober.close();
    }
  }
}
