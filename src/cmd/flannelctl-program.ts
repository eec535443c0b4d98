/**
 * flannelctl's subcommands, one module each (a CommandSpec: its words, options, help and run). A new
 * subcommand is a new *-command.ts module and one entry in COMMANDS.
 */
import { VERSION } from '../version.js';
import type { CommandSpec, Program } from './cli.js';
import { configCheckCommand } from './config-check-command.js';
import { dockerOptsCommand } from './docker-opts-command.js';
import { doctorCommand } from './doctor-command.js';
import { installCniCommand } from './install-cni-command.js';
import { labCommands } from './lab-command.js';
import { leasesCommand } from './leases-command.js';
import { statusCommand } from './status-command.js';
import { traceCommand } from './trace-command.js';
import { uninstallCommand } from './uninstall-command.js';

/** In the order the usage lists them. */
const COMMANDS: readonly CommandSpec[] = [
  statusCommand, traceCommand, doctorCommand, leasesCommand, configCheckCommand, dockerOptsCommand, installCniCommand, uninstallCommand,
  ...labCommands,
];

export const FLANNELCTL: Program = {
  name: 'flannelctl',
  version: VERSION,
  commands: COMMANDS,
  groups: {
    config: 'Network config tools.',
    lab: 'A lab of simulated hosts in network namespaces (198.18.0.0/24), a real etcd, a flanneld and a pod per host.',
  },
};
