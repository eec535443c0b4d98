#!/usr/bin/env -S node --max-semi-space-size=2
/**
 * flanneld: argv/env → options → adapters (etcd or Kubernetes, netlink, files, health) → Daemon. Exit codes as upstream:
 * 0 on a clean stop (SIGINT/SIGTERM), 1 on a fatal error, 2 on bad command-line flags.
 *
 * The shebang gives V8 a 2 MB young generation (default 16 MB per semi-space): a control-plane daemon allocates
 * little per event, and this keeps ~30 MB of RSS out of every host (FLANNELD_NODE_FLAGS in src/lab/lab.ts).
 */
import { readFileSync } from 'node:fs';
import type { EtcdRegistry } from '../adapters/etcd/etcd-registry.js';
import { IptablesFirewall } from '../adapters/firewall/iptables-firewall.js';
import { NftablesFirewall } from '../adapters/firewall/nftables-firewall.js';
import { createExtensionHookPort } from '../adapters/extension/extension-hook-port.js';
import { readTextIfExists, writeFileAtomic } from '../adapters/files/atomic-file.js';
import { type HealthServer, startHealthServer } from '../adapters/http/health-server.js';
import { startKernelWatcher } from '../adapters/netlink/kernel-watcher.js';
import { NetlinkKernel } from '../adapters/netlink/netlink-kernel.js';
import { SdNotifier } from '../adapters/systemd/sd-notify.js';
import { kernelUdpForwarder } from '../adapters/udp/udp-forwarder-adapter.js';
import { createWireguardPort } from '../adapters/wireguard/wireguard-port.js';
import { parseSubnetEnv } from '../cni/subnet-env.js';
import { type DaemonOptions, FLAGS, parseFlags, parseGoBool, toDaemonOptions, usage } from '../config/daemon-options.js';
import { Daemon } from '../daemon/daemon.js';
import type { SubnetPair } from '../lease/subnet-key.js';
import { EtcdSubnetManager } from '../subnet/etcd-subnet-manager.js';
import type { SubnetManager } from '../subnet/subnet-manager.js';
import { FlannelError, errorMessage } from '../support/errors.js';
import type { FlannelMetrics } from '../metrics/flannel-metrics.js';
import { type Logger, createLogger } from '../support/logger.js';
import { VERSION } from '../version.js';
import { createKubeSubnetManager } from './kube-mode.js';
import { openEtcdRegistry } from './etcd-flags.js';
import { hasNetAdmin } from './capabilities.js';
import { describeFailure } from './failure-text.js';
import { FlanneldObservability } from './flanneld-observability.js';

async function main(): Promise<number> {
  let parsed;
  try {
    parsed = parseFlags(process.argv.slice(2), process.env);
    if (!parsed.help && parsed.values.version !== true && parsed.rest.length > 0) throw new FlannelError('BAD_FLAG', strayArgumentMessage(process.argv.slice(2), parsed.rest));
  } catch (error) {
    process.stderr.write(`flanneld: ${errorMessage(error)} (see 'flanneld --help')\n`);
    return 2;
  }
  // Help and version go to stderr, exit 0, as upstream's (Go flag package) do: scripts read them there.
  if (parsed.help) {
    process.stderr.write(usage('flanneld'));
    return 0;
  }
  if (parsed.values.version === true) {
    process.stderr.write(`${VERSION}\n`);
    return 0;
  }
  const logger = createLogger({ verbosity: parsed.values.v as number, format: parsed.values['logging-format'] === 'json' ? 'json' : 'text' });
  const fail = (error: unknown) => {
    logger.fatal({ code: error instanceof FlannelError ? error.code : 'ERROR' }, describeFailure(error));
    process.exit(1);
  };
  process.on('uncaughtException', fail);
  process.on('unhandledRejection', fail);
  const notify = systemdNotify(logger);
  for (const warning of parsed.envWarnings) logger.warn({ err: warning }, 'failed to set flag from env');
  let options: DaemonOptions;
  try {
    const result = toDaemonOptions(parsed);
    options = result.options;
    for (const warning of result.warnings) logger.warn(warning);
  } catch (error) {
    logger.fatal(describeFailure(error));
    notify({ STATUS: `failed: ${describeFailure(error)}` });
    return 1;
  }
  logger.info({ flags: { ...parsed.values, 'etcd-password': parsed.values['etcd-password'] ? '<redacted>' : '' } }, 'CLI flags config');
  if (!hasNetAdmin()) {
    const message = 'flanneld needs root (CAP_NET_ADMIN) to program devices, routes and firewall rules';
    logger.fatal({ uid: process.getuid?.() }, message);
    notify({ STATUS: `failed: ${message}` });
    return 1;
  }

  const controller = new AbortController();
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      logger.info({ signal }, 'shutting down');
      notify({ STOPPING: '1', STATUS: `stopping (${signal})` });
      controller.abort();
    });
  }
  let health: HealthServer | undefined;
  let kernel: NetlinkKernel | undefined;
  let subnetManager: SubnetManager | undefined;
  const observability = new FlanneldObservability({
    statusSocket: options.statusSocket, subnetFile: options.subnetFile, probeIntervalSeconds: options.datapathProbeIntervalSeconds,
  }, logger);
  try {
    if (options.kubeSubnetMgr) {
      subnetManager = await createKubeSubnetManager({
        values: parsed.values, env: process.env, logger, signal: controller.signal, readFileSync, metrics: observability.metrics.registry,
      });
      if (!subnetManager) return 0;
    } else {
      const previous = readPrevious(options.subnetFile, logger);
      subnetManager = new EtcdSubnetManager({ registry: createRegistry(options, logger, observability.metrics), logger, ...(previous ? { previous } : {}) });
    }
    kernel = NetlinkKernel.open();
    const daemon = new Daemon({
      subnetManager,
      kernel,
      logger,
      interfaceOptions: {
        iface: options.iface, ifaceRegex: options.ifaceRegex, ifaceCanReach: options.ifaceCanReach,
        publicIP: options.publicIP, publicIPv6: options.publicIPv6,
      },
      ipMasq: options.ipMasq,
      firewalls: { iptables: new IptablesFirewall(), nftables: new NftablesFirewall() },
      forwardRules: options.iptablesForwardRules,
      overlayIngressFilter: options.overlayIngressFilter,
      randomFullyDisabled: options.ipMasqFullyRandomDisable,
      firewallResyncMs: options.iptablesResyncSeconds * 1000,
      blackholeRoute: options.ipBlackholeRoute,
      renewMarginMs: options.subnetLeaseRenewMarginMinutes * 60_000,
      writeSubnetFile: (contents) => writeFileAtomic(options.subnetFile, contents),
      onReady: (lease) => notify({
        READY: '1',
        STATUS: `ready: subnet ${[lease.subnet, lease.ipv6Subnet].filter(Boolean).join(' ')}, ${options.subnetFile} written`,
      }),
      watchKernel: (onEvents) =>
        startKernelWatcher({
          ignorePortId: (kernel as NetlinkKernel).portId,
          onEvents,
          onError: (error) => logger.error({ err: error.message }, 'kernel watcher failed'),
        }),
      // The ports of the backends with a userspace part (data-path-ports.ts): udp, wireguard, extension.
      dataPathAdapters: { udpForwarder: kernelUdpForwarder, wireguard: createWireguardPort(), extensionHooks: createExtensionHookPort() },
      metrics: observability.metrics,
      status: observability.statusInputs(),
    });
    if (options.healthzPort > 0) {
      health = await startHealthServer(options.healthzIP, options.healthzPort, () => daemon.ready, {
        onError: (message) => logger.error({ err: message }, 'health server error'), metrics: observability.render,
      });
      logger.info({ address: options.healthzIP, port: health.port }, 'health server listening');
    }
    await observability.start(daemon, controller.signal);
    notify({ STATUS: 'starting: waiting for the network config and a subnet lease' });
    await daemon.run(controller.signal);
    return 0;
  } catch (error) {
    const code = error instanceof FlannelError ? error.code : 'ERROR';
    logger.fatal({ code }, describeFailure(error));
    notify({ STATUS: `failed: ${describeFailure(error)}` });
    return 1;
  } finally {
    controller.abort();
    await observability.close();
    await health?.close();
    kernel?.close();
    await subnetManager?.close();
  }
}

/**
 * Upstream stops at the first non-flag and ignores the rest, so `-ip-masq false` silently drops every flag
 * after it; flanneld names the argument instead, with the fix when it follows a boolean flag.
 */
function strayArgumentMessage(argv: readonly string[], rest: readonly string[]): string {
  const stray = rest[0] === '--' ? rest.slice(1) : rest;
  const before = argv[argv.length - rest.length - 1] ?? '';
  const flag = FLAGS.find((spec) => spec.kind === 'bool' && `-${before.replace(/^--?/, '')}` === `-${spec.name}`);
  const hint = flag && parseGoBool(stray[0] ?? '') !== undefined ? `: a boolean flag takes its value as -${flag.name}=${stray[0]}` : ': flanneld takes flags only';
  return `unexpected argument ${JSON.stringify(stray[0] ?? '')}${hint}`;
}

/**
 * sd_notify when started by systemd (NOTIFY_SOCKET set), nothing otherwise. A bad NOTIFY_SOCKET or a failed
 * send is logged and never stops flanneld.
 */
function systemdNotify(logger: Logger): (assignments: Record<string, string>) => void {
  let notifier: SdNotifier | undefined;
  try {
    notifier = SdNotifier.fromEnvironment(process.env);
  } catch (error) {
    logger.warn({ err: errorMessage(error) }, 'ignoring NOTIFY_SOCKET');
  }
  return (assignments) => {
    try {
      notifier?.notify(assignments);
    } catch (error) {
      logger.warn({ err: errorMessage(error), socket: notifier?.socketName }, 'cannot notify systemd');
    }
  };
}

function createRegistry(options: DaemonOptions, logger: Logger, metrics: FlannelMetrics): EtcdRegistry {
  return openEtcdRegistry({
    endpoints: options.etcdEndpoints, prefix: options.etcdPrefix, cafile: options.etcdCafile, certfile: options.etcdCertfile,
    keyfile: options.etcdKeyfile, username: options.etcdUsername, password: options.etcdPassword,
  }, (message, fields) => logger.warn(fields, message), metrics.registry);
}

/** The subnets of the previous run, from the subnet file (a bad file is reported and ignored). */
function readPrevious(path: string, logger: Logger): Partial<SubnetPair> | undefined {
  try {
    const text = readTextIfExists(path);
    if (text === undefined) return undefined;
    const env = parseSubnetEnv(text);
    return {
      ...(env.subnet ? { subnet: env.subnet } : {}),
      ...(env.ipv6Subnet ? { ipv6Subnet: env.ipv6Subnet } : {}),
    };
  } catch (error) {
    logger.warn({ path, err: errorMessage(error) }, 'ignoring unreadable previous subnet file');
    return undefined;
  }
}

// Exit explicitly: gRPC keeps timers alive for a while after the client is closed.
process.exit(await main());
