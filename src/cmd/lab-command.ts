/**
 * `flannelctl lab demo|up|status|down`: the lab of src/lab (simulated hosts in network namespaces, a real
 * etcd, real flanneld processes, one pod per host) from the command line.
 *
 * Extending: a new lab option is one entry in LAB_OPTIONS and one line in labOptionsFrom; every action
 * accepts the same options (down and status use them when the lab's saved state is gone).
 */
import { inNetns, listNetns, processAlive } from '../lab/shell.js';
import { Lab, type LabOptions, savedLabOptions } from '../lab/lab.js';
import { errorMessage } from '../support/errors.js';
import type { CommandInput, CommandSpec } from './cli.js';
import { type OptionSpecs, type OptionValue, booleanValue, countValue, stringValue } from './cli-parse.js';

/** The options of every lab action. */
export const LAB_OPTIONS: OptionSpecs = {
  prefix: { type: 'string', default: 'ftl', placeholder: 'P', help: 'lab name: prefix of its namespaces (2-8 lower-case letters/digits)' },
  hosts: { type: 'string', default: '3', placeholder: 'N', help: 'number of hosts' },
  backend: { type: 'string', default: 'vxlan', placeholder: 'TYPE', help: 'backend type: vxlan, host-gw, udp, alloc, wireguard, extension, ipip' },
  'dual-stack': { type: 'boolean', help: 'IPv4 and IPv6 underlay, pod network and pods' },
  kube: { type: 'boolean', help: 'Kubernetes mode against the fake API server (host 3 runs from the image under podman)' },
  keep: { type: 'boolean', help: 'leave the lab running after demo, or after a failed start' },
};

/** The lab's settings from the command line. */
export function labOptionsFrom(values: Readonly<Record<string, OptionValue>>): LabOptions {
  return {
    prefix: stringValue(values, 'prefix'),
    hosts: countValue(values, 'hosts', { min: 1, max: 200 }),
    backend: stringValue(values, 'backend'),
    dualStack: booleanValue(values, 'dual-stack'),
    kube: booleanValue(values, 'kube'),
  };
}

const say = (line: string) => process.stdout.write(line + '\n');

/** The lab as started (its saved options), else as the command line describes it. */
function labFor(values: Readonly<Record<string, OptionValue>>, preferSaved: boolean): Lab {
  const saved = preferSaved ? savedLabOptions(stringValue(values, 'prefix')) : undefined;
  return new Lab(saved ?? labOptionsFrom(values));
}

export const labCommands: readonly CommandSpec[] = [
  {
    path: ['lab', 'demo'],
    summary: 'start a lab, ping every pod from every other, show routes, neighbours and leases, remove it (unless --keep)',
    options: LAB_OPTIONS,
    needsNetAdmin: true,
    run: (input) => startLab(input, true),
  },
  {
    path: ['lab', 'up'],
    summary: 'start a lab and leave it running',
    options: LAB_OPTIONS,
    needsNetAdmin: true,
    run: (input) => startLab(input, false),
  },
  {
    path: ['lab', 'status'],
    summary: "each host's namespace, flanneld and pod",
    options: LAB_OPTIONS,
    async run({ values }) {
      const instance = labFor(values, true);
      const existing = new Set(listNetns());
      for (const host of instance.layout.hosts) {
        const pid = instance.flanneldPid(host);
        const how = instance.kube ? ` (${instance.kube.style(host)})` : '';
        say(`${host.name}: netns ${existing.has(host.netns) ? 'up' : 'absent'}, flanneld${how} ${pid && processAlive(pid) ? `pid ${pid}` : 'not running'}, pod ${instance.podIp(host) ?? '-'}`);
      }
      if (instance.kube) say(`API server ${instance.kube.url}: ${(await instance.kube.admin.ready()) ? 'answering' : 'not answering'}`);
      return 0;
    },
  },
  {
    path: ['lab', 'down'],
    summary: "stop the lab's processes and delete its namespaces",
    options: LAB_OPTIONS,
    needsNetAdmin: true,
    async run({ values }) {
      const instance = labFor(values, true);
      await instance.down();
      say(`lab ${instance.options.prefix} removed`);
      return 0;
    },
  },
];

async function startLab({ values }: CommandInput, demo: boolean): Promise<number> {
  const instance = labFor(values, false);
  const options = instance.options;
  const keep = booleanValue(values, 'keep');
  try {
    await instance.up(say);
    if (demo && !(await showDemo(instance))) return 1;
  } catch (error) {
    process.stderr.write(`lab ${demo ? 'demo' : 'up'} failed: ${errorMessage(error)}\n`);
    if (!keep) await instance.down();
    return 1;
  } finally {
    if (demo && !keep) {
      await instance.down();
      say('lab removed (use --keep to leave it running)');
    }
  }
  if (!demo || keep) say(`lab is running: \`flannelctl lab status --prefix ${options.prefix}\`, \`flannelctl lab down --prefix ${options.prefix}\``);
  return 0;
}

/** Pings, routes, neighbours and leases of a running lab; false when some pods cannot reach each other. */
async function showDemo(instance: Lab): Promise<boolean> {
  const options = instance.options;
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
  const first = instance.layout.hosts[0];
  say(`routes on ${first?.name} (ours carry proto 111):`);
  if (first) {
    for (const family of options.dualStack ? ['-4', '-6'] : ['-4']) say(inNetns(first.netns, 'ip', [family, 'route', 'show', 'proto', '111']).stdout.trimEnd().replace(/^/gm, '  '));
    if (options.backend === 'vxlan') {
      say(`neighbours and FDB entries on ${first.name}'s flannel devices:`);
      say(inNetns(first.netns, 'ip', ['neigh', 'show', 'nud', 'permanent']).stdout.trimEnd().replace(/^/gm, '  '));
      say(inNetns(first.netns, 'bridge', ['fdb', 'show', 'dev', 'flannel.1']).stdout.trimEnd().replace(/^/gm, '  '));
    } else if (options.backend === 'udp') {
      say(`flannel0 on ${first.name} (a TUN: flanneld carries each packet in a UDP datagram to the peer's port 8285):`);
      say(inNetns(first.netns, 'ip', ['-d', 'addr', 'show', 'dev', 'flannel0']).stdout.trimEnd().replace(/^/gm, '  '));
    }
    if (options.backend === 'wireguard') {
      // wireguard-go's sockets are in flanneld's mount namespace (lab-backends.ts), so wg runs there.
      say(`WireGuard on ${first.name} (\`wg show\` in flanneld's namespaces):`);
      say(instance.inFlanneld(first, 'wg', ['show']).stdout.trimEnd().replace(/^/gm, '  '));
    }
  }
  if (instance.kube) {
    say("Nodes in the API server (flannel's annotations and condition):");
    for (const line of await instance.kube.describeNodes()) say(`  ${line}`);
  } else {
    say('leases in etcd:');
    say(instance.etcdctl(['get', '--prefix', '/coreos.com/network/subnets/']).stdout.trimEnd().replace(/^/gm, '  '));
  }
  if (failures.length > 0) {
    say(`FAILED: ${failures.length} pod pairs cannot reach each other`);
    return false;
  }
  say('all pods reach each other');
  return true;
}
