/**
 * Benchmark: the overlay ingress filter at 5,000 peers.
 * - Data path: UDP packets (64 B payload, iperf3) from the last of 5,000 peers to port 8472, received per second
 *   with no filter, with a single unrelated INPUT rule (the cost of the netfilter hook itself), with our ipset
 *   rules (iptables mode), with our nft set (nftables mode), and with the naive design (one iptables rule per
 *   peer), rounds alternating, medians and spreads, ratios to no filter.
 * - Control plane: our adapters writing the whole rule set (start), writing it again with one more peer (a lease
 *   arrives), and reading it back (every resync), per mode.
 * Run as root after `npm run build`: node dist/bench/ingress-filter.js [--peers 5000] [--rounds 3] [--seconds 2]
 * Prints figures and writes bench/results/ingress-filter.json. Everything stays inside namespaces it makes.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { IptablesFirewall } from '../src/adapters/firewall/iptables-firewall.js';
import { NftablesFirewall } from '../src/adapters/firewall/nftables-firewall.js';
import { run } from '../src/lab/shell.js';
import { Cidr, IpAddress } from '../src/net/ip.js';
import type { Firewall } from '../src/traffic/firewall.js';
import type { TrafficSpec } from '../src/traffic/traffic-rules.js';
import { reExecInNamespace, saveResult } from './bench-namespace.js';

const { values } = parseArgs({
  options: {
    peers: { type: 'string', default: '5000' }, rounds: { type: 'string', default: '3' }, seconds: { type: 'string', default: '2' },
    inside: { type: 'boolean', default: false },
  },
});
const peerCount = Number(values.peers);
const rounds = Number(values.rounds);
const seconds = Number(values.seconds);
const SENDER_NETNS = 'ftbench-ingress-tx';
const SENDER_IP = '198.18.200.1';
const RECEIVER_IP = '198.18.200.2';

if (!reExecInNamespace('ftbench-ingress')) await inside();

/** 5,000 peers: the sender last, so a rule-per-peer chain walks every rule for it. */
function peers(count: number): IpAddress[] {
  const others = Array.from({ length: count - 1 }, (_, index) => IpAddress.parse(`10.${(index >> 16) & 255}.${(index >> 8) & 255}.${index & 255}`));
  return [...others, IpAddress.parse(SENDER_IP)];
}

function spec(peerList: readonly IpAddress[]): TrafficSpec {
  return {
    family: 4, network: Cidr.parse('10.244.0.0/16'), subnet: Cidr.parse('10.244.1.0/24'), ipMasq: false, forwardRules: false, randomFully: false,
    ingress: { protocol: 'udp', port: 8472, peers: [...peerList].sort((a, b) => a.compare(b)) },
  };
}

async function timed(action: () => Promise<unknown>): Promise<number> {
  const started = process.hrtime.bigint();
  await action();
  return Number(process.hrtime.bigint() - started) / 1e6;
}

function median(list: readonly number[]): number {
  const sorted = [...list].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

function summary(list: readonly number[]): { median: number; min: number; max: number } {
  return { median: Math.round(median(list)), min: Math.round(Math.min(...list)), max: Math.round(Math.max(...list)) };
}

/** One iperf3 UDP run from the sender to our port 8472; packets received per second. */
async function receivedPps(): Promise<number> {
  const server = spawn('iperf3', ['-s', '-1', '-p', '8472', '-B', RECEIVER_IP], { stdio: 'ignore' });
  await new Promise((resolve) => setTimeout(resolve, 300));
  const client = run('ip', ['netns', 'exec', SENDER_NETNS, 'iperf3', '-c', RECEIVER_IP, '-p', '8472', '-u', '-b', '0', '-l', '64', '-t', String(seconds), '-J'], { allowFailure: true, timeoutMs: (seconds + 10) * 1000 });
  await new Promise((resolve) => {
    if (server.exitCode !== null) resolve(undefined);
    server.once('exit', resolve);
    setTimeout(() => server.kill('SIGTERM'), 3000).unref();
  });
  const end = (JSON.parse(client.stdout) as { end: { sum: { packets: number; lost_packets: number; seconds: number } } }).end.sum;
  return (end.packets - end.lost_packets) / end.seconds;
}

/** The naive design: one RETURN rule per peer, then DROP. */
function linearRules(peerList: readonly IpAddress[]): string {
  return ['*filter', ':FLANNEL-INGRESS - [0:0]', '-I INPUT 1 -p udp -m udp --dport 8472 -j FLANNEL-INGRESS',
    ...peerList.map((peer) => `-A FLANNEL-INGRESS -s ${peer}/32 -j RETURN`), '-A FLANNEL-INGRESS -j DROP', 'COMMIT', ''].join('\n');
}

function removeLinear(): void {
  run('iptables-restore', ['--noflush'], { input: '*filter\n:FLANNEL-INGRESS - [0:0]\n-D INPUT -p udp -m udp --dport 8472 -j FLANNEL-INGRESS\n-X FLANNEL-INGRESS\nCOMMIT\n' });
}

async function inside(): Promise<void> {
  run('ip', ['link', 'set', 'lo', 'up']);
  run('ip', ['netns', 'del', SENDER_NETNS], { allowFailure: true });
  run('ip', ['netns', 'add', SENDER_NETNS]);
  const iptables = new IptablesFirewall();
  const nftables = new NftablesFirewall();
  try {
    run('ip', ['link', 'add', 'rx0', 'type', 'veth', 'peer', 'name', 'tx0', 'netns', SENDER_NETNS]);
    run('ip', ['addr', 'add', `${RECEIVER_IP}/24`, 'dev', 'rx0']);
    run('ip', ['link', 'set', 'rx0', 'up']);
    run('ip', ['netns', 'exec', SENDER_NETNS, 'ip', 'addr', 'add', `${SENDER_IP}/24`, 'dev', 'tx0']);
    run('ip', ['netns', 'exec', SENDER_NETNS, 'ip', 'link', 'set', 'tx0', 'up']);
    const peerList = peers(peerCount);
    const withOneMore = [...peerList, IpAddress.parse('10.250.0.1')];

    // Control plane, per mode: first write, a write with one more peer, a read (as every resync does).
    const control: Record<string, { writeMs: number[]; changeMs: number[]; readMs: number[] }> = {};
    for (const [name, firewall] of [['iptables+ipset', iptables], ['nftables set', nftables]] as Array<[string, Firewall]>) {
      const entry = { writeMs: [] as number[], changeMs: [] as number[], readMs: [] as number[] };
      for (let round = 0; round < rounds; round++) {
        entry.writeMs.push(await timed(() => firewall.write(spec(peerList))));
        entry.changeMs.push(await timed(() => firewall.write(spec(withOneMore))));
        entry.readMs.push(await timed(() => firewall.read(4)));
        await firewall.remove(4);
      }
      control[name] = entry;
    }
    const linearFile = join(tmpdir(), `flannel-ts-bench-linear-${process.pid}.rules`);
    writeFileSync(linearFile, linearRules(peerList));
    const linearWriteMs: number[] = [];
    for (let round = 0; round < rounds; round++) {
      linearWriteMs.push(await timed(async () => run('iptables-restore', ['--noflush', linearFile])));
      removeLinear();
    }

    // Data path: variants alternate within each round, so that drift in machine load hits them alike.
    const variants: Array<[string, () => Promise<void>, () => Promise<void>]> = [
      ['no filter', async () => undefined, async () => undefined],
      // The cost of having any INPUT rule at all (a real host has kube-proxy's or the distribution's already).
      ['one INPUT rule, no filter', async () => void run('iptables', ['-I', 'INPUT', '1', '-p', 'udp', '--dport', '8472', '-j', 'RETURN']),
        async () => void run('iptables', ['-D', 'INPUT', '-p', 'udp', '--dport', '8472', '-j', 'RETURN'])],
      ['iptables+ipset', () => iptables.write(spec(peerList)), () => iptables.remove(4)],
      ['nftables set', () => nftables.write(spec(peerList)), () => nftables.remove(4)],
      ['iptables, rule per peer', async () => void run('iptables-restore', ['--noflush', linearFile]), async () => removeLinear()],
    ];
    const pps: Record<string, number[]> = Object.fromEntries(variants.map(([name]) => [name, []]));
    for (let round = 0; round < rounds; round++) {
      for (const [name, install, uninstall] of variants) {
        await install();
        try {
          pps[name]?.push(await receivedPps());
        } finally {
          await uninstall();
        }
      }
    }
    run('rm', ['-f', linearFile]);

    const baseline = median(pps['no filter'] ?? []);
    const dataPath = Object.fromEntries(Object.entries(pps).map(([name, list]) => [name, { pps: summary(list), ratioToNoFilter: Number((median(list) / baseline).toFixed(2)) }]));
    const controlPlane = {
      ...Object.fromEntries(Object.entries(control).map(([name, entry]) => [name, { writeAllMs: summary(entry.writeMs), writeOneMoreMs: summary(entry.changeMs), readBackMs: summary(entry.readMs) }])),
      'iptables, rule per peer': { writeAllMs: summary(linearWriteMs) },
    };
    console.log(`overlay ingress filter, ${peerCount} peers, ${rounds} alternating rounds of ${seconds} s (median [min..max]):`);
    console.log('  data path, UDP 64 B to port 8472 from the last peer, packets received per second:');
    for (const [name, entry] of Object.entries(dataPath)) console.log(`    ${name.padEnd(26)} ${String(entry.pps.median).padStart(8)} pps [${entry.pps.min}..${entry.pps.max}]  ratio to no filter ${entry.ratioToNoFilter}`);
    console.log('  control plane (our adapters):');
    for (const [name, entry] of Object.entries(controlPlane)) {
      const parts = Object.entries(entry).map(([what, figures]) => `${what} ${figures.median} ms [${figures.min}..${figures.max}]`);
      console.log(`    ${name.padEnd(26)} ${parts.join(', ')}`);
    }
    saveResult('ingress-filter', { peers: peerCount, rounds, seconds, dataPath, controlPlane });
  } finally {
    await iptables.remove(4).catch(() => undefined);
    await nftables.remove(4).catch(() => undefined);
    run('ip', ['netns', 'del', SENDER_NETNS], { allowFailure: true });
  }
}
