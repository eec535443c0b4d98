/**
 * `flannelctl install-cni [--plugin-dir DIR] [--conf SRC --conf-dest DEST]`: the Kubernetes DaemonSet's two
 * init containers (src/cni/install-cni.ts): the flannel CNI plugin, self-contained, copied into DIR; the CNI
 * network config SRC installed as DEST, atomically. Exit 0 installed, 1 failed, 2 bad usage.
 */
import { fileURLToPath } from 'node:url';
import { cniInstallIo } from '../adapters/files/cni-install-io.js';
import { installCni } from '../cni/install-cni.js';
import { FlannelError } from '../support/errors.js';
import { VERSION } from '../version.js';
import { type CommandSpec, UsageError } from './cli.js';

export const installCniCommand: CommandSpec = {
  path: ['install-cni'],
  summary: 'copy the CNI plugin into DIR; install the CNI network config SRC as DEST, atomically (the DaemonSet\'s init containers)',
  options: {
    'plugin-dir': { type: 'string', placeholder: 'DIR', help: 'copy the flannel CNI plugin (with its runtime wrapper) into DIR' },
    conf: { type: 'string', placeholder: 'SRC', help: 'a CNI network config to install (with --conf-dest)' },
    'conf-dest': { type: 'string', placeholder: 'DEST', help: 'where --conf is installed' },
  },
  run({ values }) {
    const pluginDir = values['plugin-dir'] as string | undefined;
    const conf = values.conf as string | undefined;
    const confDest = values['conf-dest'] as string | undefined;
    if ((conf === undefined) !== (confDest === undefined)) throw new UsageError('--conf and --conf-dest go together');
    if (!pluginDir && !conf) throw new UsageError('nothing to install: give --plugin-dir and/or --conf with --conf-dest');
    const sources = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '');
    try {
      const report = installCni({
        ...(pluginDir ? { plugin: { directory: pluginDir, source: { runtime: process.execPath, sources, version: VERSION } } } : {}),
        ...(conf && confDest ? { conf: { source: conf, destination: confDest } } : {}),
      }, cniInstallIo);
      for (const line of report.lines) process.stdout.write(line + '\n');
      return 0;
    } catch (error) {
      if (error instanceof FlannelError && error.code === 'BAD_USAGE') throw new UsageError(error.message);
      throw error;
    }
  },
};
