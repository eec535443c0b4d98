#!/usr/bin/env node
/**
 * flannelctl: operations and the lab.
 *   flannelctl config check FILE|-          print the effective network config, or every problem of it and of its
 *                                           Backend options (exit 1)
 *   flannelctl leases [--etcd-endpoints …] [--etcd-prefix …]   list the leases in etcd
 *   flannelctl uninstall                    remove everything flannel-ts owns on this host
 *   flannelctl docker-opts [-f -d -i -c -k -m]   Docker options from subnet.env (mk-docker-opts.sh)
 *   flannelctl install-cni [--plugin-dir DIR] [--conf SRC --conf-dest DEST]   the DaemonSet's init containers
 *   flannelctl lab demo|up|down|status [--prefix ftl] [--hosts 3] [--backend vxlan] [--dual-stack] [--kube] [--keep]
 *   flannelctl status | trace DST [--from SRC] | doctor   see into flanneld and the data path (status-command.ts,
 *                                           trace-command.ts, doctor-command.ts)
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { cniInstallIo } from '../adapters/files/cni-install-io.js';
import { installCni } from '../cni/install-cni.js';
import { VERSION } from '../version.js';
import { EtcdRegistry } from '../adapters/etcd/etcd-registry.js';
import { IptablesFirewall } from '../adapters/firewall/iptables-firewall.js';
import { NftablesFirewall } from '../adapters/firewall/nftables-firewall.js';
import { NetlinkKernel } from '../adapters/netlink/netlink-kernel.js';
import { uninstall } from '../daemon/uninstall.js';
import { dockerOptsCommand } from './docker-opts-command.js';
import { DOCTOR_USAGE, doctorCommand } from './doctor-command.js';
import { STATUS_USAGE, statusCommand } from './status-command.js';
import { TRACE_USAGE, traceCommand } from './trace-command.js';
import { type NetworkConfig, networkConfigToJson, parseNetworkConfig } from '../config/network-config.js';
import { backendConfigProblems } from '../backend/backends.js';
import { inNetns, listNetns, processAlive } from '../lab/shell.js';
import { Lab, type LabOptions, savedLabOptions } from '../lab/lab.js';
import { encodeLeaseAttrs, leaseKey } from '../lease/lease.js';
import { ValidationError, errorMessage } from '../support/errors.js';

const USAGE = `Usage:
  flannelctl config check FILE|-
  flannelctl leases [--etcd-endpoints URLS] [--etcd-prefix PREFIX]
  flannelctl uninstall      (stop flanneld first: removes its rules, routes and devices from this host)
  flannelctl docker-opts [-f FLANNEL-ENV-FILE] [-d DOCKER-ENV-FILE] [-i] [-c] [-m] [-k COMBINED-KEY]
  flannelctl install-cni [--plugin-dir DIR] [--conf SRC --conf-dest DEST]
                            (copy the CNI plugin into DIR; install the CNI network config SRC as DEST, atomically)
  flannelctl lab demo   [--hosts N] [--backend vxlan|host-gw|alloc] [--dual-stack] [--kube] [--prefix P] [--keep]
  flannelctl lab up     [--hosts N] [--backend vxlan|host-gw|alloc] [--dual-stack] [--kube] [--prefix P]
                            (--kube: Kubernetes mode against the fake API server; host 3 runs from the image)
  flannelctl lab status [--prefix P]
  flannelctl lab down   [--prefix P]
${STATUS_USAGE}${TRACE_USAGE}${DOCTOR_USAGE}`;

async function main(argv: string[]): Promise<number> {
  const [group, action, ...rest] = argv;
  if (group === 'config' && action === 'check') return configCheck(rest);
  if (group === 'leases') return listLeases([action ?? '', ...rest].filter((a) => a !== ''));
  if (group === 'lab' && action) return lab(action, rest);
  if (group === 'uninstall') return removeEverything();
  if (group === 'docker-opts') return dockerOptsCommand(argv.slice(1));
  if (group === 'status') return statusCommand(argv.slice(1));
  if (group === 'trace') return traceCommand(argv.slice(1));
  if (group === 'doctor') return doctorCommand(argv.slice(1));
  if (group === 'install-cni') return installCniCommand([action ?? '', ...rest].filter((a) => a !== ''));
  process.stderr.write(USAGE);
  return group === undefined || group === '--help' || group === '-h' ? 0 : 2;
}

function configCheck(args: string[]): number {
  const path = args[0];
  if (!path) {
    process.stderr.write(USAGE);
    return 2;
  }
  let text: string;
  try {
    text = readFileSync(path === '-' ? 0 : path, 'utf8');
  } catch (error) {
    process.stderr.write(`cannot read ${path}: ${errorMessage(error)}\n`);
    return 1;
  }
  const { config, problems } = checkConfigText(text);
  if (config && problems.length === 0) {
    process.stdout.write(JSON.stringify(networkConfigToJson(config), null, 2) + '\n');
    return 0;
  }
  process.stderr.write(`network config is invalid (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n`);
  for (const problem of problems) process.stderr.write(`  - ${problem}\n`);
  return 1;
}

/**
 * The network config's problems, then its Backend's (per backend type); the Backend is checked even when the
 * rest of the config is invalid, decoded without upstream's defaulting, so every problem is reported at once.
 */
function checkConfigText(text: string): { config?: NetworkConfig; problems: string[] } {
  const problemsOf = (error: unknown) => (error instanceof ValidationError ? [...error.problems] : [errorMessage(error)]);
  try {
    const config = parseNetworkConfig(text);
    return { config, problems: backendConfigProblems(config) };
  } catch (error) {
    const problems = problemsOf(error);
    try {
      problems.push(...backendConfigProblems(parseNetworkConfig(text, { validate: false })));
    } catch {
      // The config cannot even be decoded: its own problems say why.
    }
    return { problems };
  }
}

async function listLeases(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      'etcd-endpoints': { type: 'string', default: process.env.FLANNELD_ETCD_ENDPOINTS || 'http://127.0.0.1:2379' },
      'etcd-prefix': { type: 'string', default: process.env.FLANNELD_ETCD_PREFIX || '/coreos.com/network' },
    },
  });
  const registry = new EtcdRegistry({ endpoints: values['etcd-endpoints'].split(','), prefix: values['etcd-prefix'] });
  try {
    const listing = await registry.listLeases();
    for (const lease of listing.leases) process.stdout.write(`${leaseKey(lease)}\t${encodeLeaseAttrs(lease.attrs)}\n`);
    for (const bad of listing.malformed) process.stdout.write(`${bad.key}\tMALFORMED: ${bad.reason}\n`);
    return 0;
  } finally {
    await registry.close();
  }
}

async function removeEverything(): Promise<number> {
  const kernel = NetlinkKernel.open();
  try {
    const report = await uninstall(kernel, [new IptablesFirewall(), new NftablesFirewall()]);
    process.stdout.write(`removed ${report.routes} routes, devices [${report.devices.join(', ')}], firewall rules (${report.firewalls.join(', ')})\n`);
    for (const problem of report.problems) process.stderr.write(`problem: ${problem}\n`);
    return report.problems.length === 0 ? 0 : 1;
  } finally {
    kernel.close();
  }
}

function installCniCommand(args: string[]): number {
  try {
    const { values } = parseArgs({ args, options: { 'plugin-dir': { type: 'string' }, conf: { type: 'string' }, 'conf-dest': { type: 'string' } } });
    if ((values.conf === undefined) !== (values['conf-dest'] === undefined)) throw new Error('--conf and --conf-dest go together');
    const sources = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '');
    const report = installCni({
      ...(values['plugin-dir'] ? { plugin: { directory: values['plugin-dir'], source: { runtime: process.execPath, sources, version: VERSION } } } : {}),
      ...(values.conf && values['conf-dest'] ? { conf: { source: values.conf, destination: values['conf-dest'] } } : {}),
    }, cniInstallIo);
    for (const line of report.lines) process.stdout.write(line + '\n');
    return 0;
  } catch (error) {
    process.stderr.write(`${errorMessage(error)}\n${USAGE}`);
    return 1;
  }
}

async function lab(action: string, args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      prefix: { type: 'string', default: 'ftl' },
      hosts: { type: 'string', default: '3' },
      backend: { type: 'string', default: 'vxlan' },
      'dual-stack': { type: 'boolean', default: false },
      kube: { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
    },
  });
  const saved = savedLabOptions(values.prefix);
  const options: LabOptions = saved && (action === 'down' || action === 'status')
    ? saved
    : { prefix: values.prefix, hosts: Number(values.hosts), backend: values.backend, dualStack: values['dual-stack'], kube: values.kube };
  const instance = new Lab(options);
  const say = (line: string) => process.stdout.write(line + '\n');
  switch (action) {
    case 'up':
    case 'demo': {
      try {
        await instance.up(say);
        if (action === 'demo') {
          const failures: string[] = [];
          for (const family of options.dualStack ? ([4, 6] as const) : ([4] as const)) {
            say(`IPv${family} ping matrix between pods on different hosts:`);
            const failed = instance.pingMatrix(family);
            failures.push(...failed);
            for (const from of instance.layout.hosts) {
              for (const to of instance.layout.hosts) {
                if (from === to) continue;
                const label = `${from.name}→${to.name}`;
                say(`  ${label.padEnd(8)} ${instance.podIp(from, family)} → ${instance.podIp(to, family)}: ${failed.some((f) => f.startsWith(label)) ? 'FAILED' : 'ok'}`);
              }
            }
          }
          say(`routes on ${instance.layout.hosts[0]?.name} (ours carry proto 111):`);
          const first = instance.layout.hosts[0];
          if (first) {
            for (const family of options.dualStack ? ['-4', '-6'] : ['-4']) say(inNetns(first.netns, 'ip', [family, 'route', 'show', 'proto', '111']).stdout.trimEnd().replace(/^/gm, '  '));
            if (options.backend === 'vxlan') {
              say(`neighbours and FDB entries on ${first.name}'s flannel devices:`);
              say(inNetns(first.netns, 'ip', ['neigh', 'show', 'nud', 'permanent']).stdout.trimEnd().replace(/^/gm, '  '));
              say(inNetns(first.netns, 'bridge', ['fdb', 'show', 'dev', 'flannel.1']).stdout.trimEnd().replace(/^/gm, '  '));
            }
          }
          if (instance.kube) {
            say('Nodes in the API server (flannel\'s annotations and condition):');
            for (const line of await instance.kube.describeNodes()) say(`  ${line}`);
          } else {
            say('leases in etcd:');
            say(instance.etcdctl(['get', '--prefix', '/coreos.com/network/subnets/']).stdout.trimEnd().replace(/^/gm, '  '));
          }
          if (failures.length > 0) {
            say(`FAILED: ${failures.length} pod pairs cannot reach each other`);
            return 1;
          }
          say('all pods reach each other');
        }
      } catch (error) {
        process.stderr.write(`lab ${action} failed: ${errorMessage(error)}\n`);
        if (!values.keep) await instance.down();
        return 1;
      } finally {
        if (action === 'demo' && !values.keep) {
          await instance.down();
          say('lab removed (use --keep to leave it running)');
        }
      }
      if (action === 'up' || values.keep) say(`lab is running: \`flannelctl lab status --prefix ${options.prefix}\`, \`flannelctl lab down --prefix ${options.prefix}\``);
      return 0;
    }
    case 'status': {
      const existing = new Set(listNetns());
      for (const host of instance.layout.hosts) {
        const pid = instance.flanneldPid(host);
        const how = instance.kube ? ` (${instance.kube.style(host)})` : '';
        say(`${host.name}: netns ${existing.has(host.netns) ? 'up' : 'absent'}, flanneld${how} ${pid && processAlive(pid) ? `pid ${pid}` : 'not running'}, pod ${instance.podIp(host) ?? '-'}`);
      }
      if (instance.kube) say(`API server ${instance.kube.url}: ${(await instance.kube.admin.ready()) ? 'answering' : 'not answering'}`);
      return 0;
    }
    case 'down':
      await instance.down();
      say(`lab ${options.prefix} removed`);
      return 0;
    default:
      process.stderr.write(USAGE);
      return 2;
  }
}

process.exit(await main(process.argv.slice(2)));
