/**
 * `flannelctl docker-opts`: reads subnet.env, checks the routing table as mk-docker-opts.sh does, and writes the
 * Docker env file atomically (Docker never reads half a file). Exit codes: 0 written, 1 a problem with the
 * files or the host (one line on stderr), 2 bad usage (one line naming the argument). `--help` prints
 * DOCKER_OPTS_USAGE, as `-h` does.
 */
import { readTextIfExists, writeFileAtomic } from '../adapters/files/atomic-file.js';
import { NetlinkKernel } from '../adapters/netlink/netlink-kernel.js';
import { DOCKER_OPTS_USAGE, type DockerOptsCommand, parseDockerOptsArgs } from '../docker/docker-opts-args.js';
import { type DockerNetwork, conflictMessage, conflictingRoute, renderDockerOpts } from '../docker/docker-opts.js';
import { errorMessage } from '../support/errors.js';
import { type CommandSpec, UsageError } from './cli.js';

export const dockerOptsCommand: CommandSpec = {
  path: ['docker-opts'],
  summary: "Docker daemon options for this host's flannel subnet, from subnet.env (a drop-in for mk-docker-opts.sh)",
  synopsis: '[-f FLANNEL-ENV-FILE] [-d DOCKER-ENV-FILE] [-i] [-c] [-m] [-k COMBINED-KEY]',
  options: {},
  helpText: DOCKER_OPTS_USAGE,
  ownParser: true,
  run: ({ argv }) => dockerOpts(argv),
};

async function dockerOpts(argv: readonly string[]): Promise<number> {
  let command: DockerOptsCommand;
  try {
    command = parseDockerOptsArgs(argv);
  } catch (error) {
    throw new UsageError(errorMessage(error));
  }
  if (command.help) {
    process.stdout.write(DOCKER_OPTS_USAGE);
    return 0;
  }
  const { request } = command;
  try {
    const subnetEnv = readTextIfExists(request.subnetFile);
    if (subnetEnv === undefined) {
      process.stderr.write(`docker-opts: ${request.subnetFile} does not exist: flanneld writes it once it holds a subnet lease (is it running? is -f right?)\n`);
      return 1;
    }
    const { text, network } = renderDockerOpts(request, subnetEnv, process.env);
    const conflict = await findConflict(network);
    if (conflict) {
      process.stderr.write(`${conflict}\n`);
      return 1;
    }
    writeFileAtomic(request.outputFile, text);
    return 0;
  } catch (error) {
    process.stderr.write(`docker-opts: ${errorMessage(error)}\n`);
    return 1;
  }
}

/** The script's routing-table check; skipped with a warning where netlink is closed to us (not root). */
async function findConflict(network: DockerNetwork): Promise<string | undefined> {
  if (!network.bridgeAddress) return undefined;
  let kernel: NetlinkKernel;
  try {
    kernel = NetlinkKernel.open();
  } catch (error) {
    process.stderr.write(`docker-opts: warning: cannot read the routing table (${errorMessage(error)}); not checked for ${network.bridgeAddress.masked()}\n`);
    return undefined;
  }
  try {
    const route = conflictingRoute(network, await kernel.listRoutes());
    if (!route) return undefined;
    const links = await kernel.listLinks();
    return conflictMessage(route, (index) => links.find((link) => link.index === index)?.name);
  } finally {
    kernel.close();
  }
}
