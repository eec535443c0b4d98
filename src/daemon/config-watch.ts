/**
 * Noticing a network config changed in the store while flanneld runs. flanneld keeps the config it started
 * with (as upstream, which ignores a change silently): this re-reads it through the SubnetManager every
 * `intervalMs` and logs, once per distinct change, that a restart is needed and which fields changed; a
 * config that became missing or invalid is reported likewise, and a return to the running config too. A store
 * that cannot be reached is not a change (the lease watch reports that). Returns when `signal` aborts.
 */
import { type NetworkConfig, describeNetworkConfigChanges } from '../config/network-config.js';
import type { SubnetManager } from '../subnet/subnet-manager.js';
import { type Clock, systemClock } from '../support/clock.js';
import { FlannelError, errorMessage } from '../support/errors.js';
import type { Logger } from '../support/logger.js';

export interface ConfigWatchOptions {
  readonly subnetManager: Pick<SubnetManager, 'getNetworkConfig'>;
  /** The config flanneld runs with. */
  readonly running: NetworkConfig;
  readonly logger: Logger;
  readonly intervalMs: number;
  readonly clock?: Clock;
}

export async function watchNetworkConfig(options: ConfigWatchOptions, signal: AbortSignal): Promise<void> {
  const { logger, running } = options;
  const clock = options.clock ?? systemClock;
  /** What was last reported ('' = the store matches the running config). */
  let reported = '';
  while (!signal.aborted) {
    await clock.sleep(options.intervalMs, signal);
    if (signal.aborted) break;
    let state: string;
    let report: () => void;
    try {
      const changes = describeNetworkConfigChanges(running, await options.subnetManager.getNetworkConfig());
      state = changes.join('\n');
      report = () => changes.length > 0
        ? logger.warn({ changes }, 'network config in the store changed; restart flanneld to apply it (it keeps running with the config it started with)')
        : logger.info('network config in the store matches the running config again');
    } catch (error) {
      if (!(error instanceof FlannelError) || !(error.code === 'CONFIG_MISSING' || error.code.startsWith('INVALID'))) {
        logger.debug({ err: errorMessage(error) }, 'could not re-read the network config');
        continue;
      }
      state = `unusable: ${error.message}`;
      report = () => logger.warn({ err: error.message }, 'network config in the store is missing or invalid; flanneld keeps running with the config it started with');
    }
    if (state !== reported) {
      report();
      reported = state;
    }
  }
}
