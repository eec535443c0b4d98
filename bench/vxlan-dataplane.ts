/**
 * Benchmark, vxlan data plane, side by side in one run with the same iperf3 settings (TCP, 1 and 4 streams):
 *   ours:      pod → pod across two lab hosts programmed by flanneld (vxlan, our CNI plugin, bridge cni0);
 *   by hand:   pod → pod across two hosts set up with the classic commands (ip link add … type vxlan,
 *              ip neigh add … lladdr, bridge fdb add … dst, ip route add … onlink) — the kernel's own limit;
 *   underlay:  host → host over the underlay.
 * Prints Gbit/s and the ratios ours/by-hand (goal ≥ 0.98) and ours/underlay; writes bench/results/vxlan-dataplane.json.
 * Run as root after `npm run build`: node dist/bench/vxlan-dataplane.js [--seconds 10] [--rounds 4]
 * All traffic stays inside the lab's namespaces; the extra namespaces are deleted by name.
 */
import { parseArgs } from 'node:util';
import { spawn } from 'node:child_process';
import { Lab } from '../src/lab/lab.js';
import type { LabHost } from '../src/lab/lab-layout.js';
import { inNetns, listNetns, run } from '../src/lab/shell.js';
import { sleep } from '../src/support/timing.js';
import { saveResult } from './bench-namespace.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '10' }, rounds: { type: 'string', default: '4' } } });
const seconds = Number(values.seconds);
const rounds = Number(values.rounds);
const lab = new Lab({ prefix: 'ftp', hosts: 2, backend: 'vxlan', cniDelegate: { ipMasq: false } });
const HAND = [
  { host: 'ftp-m1', pod: 'ftp-m1-p', underlay: '198.18.0.51', subnet: 3, mac: '02:00:00:00:33:01' },
  { host: 'ftp-m2', pod: 'ftp-m2-p', underlay: '198.18.0.52', subnet: 4, mac: '02:00:00:00:33:02' },
] as const;

function handBuilt(): void {
  for (const [index, side] of HAND.entries()) {
    const peer = HAND[1 - index] as (typeof HAND)[number];
    const sh = (...args: string[]) => inNetns(side.host, 'ip', args);
    run('ip', ['netns', 'add', side.host]);
    run('ip', ['netns', 'add', side.pod]);
    inNetns(lab.layout.underlayNetns, 'ip', ['link', 'add', `ul-${side.host.slice(-2)}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', side.host]);
    inNetns(lab.layout.underlayNetns, 'ip', ['link', 'set', `ul-${side.host.slice(-2)}`, 'master', 'br0', 'up']);
    sh('addr', 'add', `${side.underlay}/24`, 'dev', 'eth0');
    sh('link', 'set', 'eth0', 'up');
    sh('link', 'set', 'lo', 'up');
    inNetns(side.host, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
    // The pod: veth into a bridge, as the bridge CNI plugin wires it.
    sh('link', 'add', 'cni0', 'type', 'bridge');
    sh('addr', 'add', `10.250.${side.subnet}.1/24`, 'dev', 'cni0');
    sh('link', 'set', 'cni0', 'mtu', '1450', 'up');
    sh('link', 'add', 'veth-pod', 'mtu', '1450', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', side.pod);
    sh('link', 'set', 'veth-pod', 'master', 'cni0', 'up');
    inNetns(side.pod, 'ip', ['addr', 'add', `10.250.${side.subnet}.2/24`, 'dev', 'eth0']);
    inNetns(side.pod, 'ip', ['link', 'set', 'eth0', 'up']);
    inNetns(side.pod, 'ip', ['link', 'set', 'lo', 'up']);
    inNetns(side.pod, 'ip', ['route', 'add', 'default', 'via', `10.250.${side.subnet}.1`]);
    // The classic VXLAN commands.
    sh('link', 'add', 'vx0', 'type', 'vxlan', 'id', '1', 'dstport', '8472', 'local', side.underlay, 'dev', 'eth0', 'nolearning');
    sh('link', 'set', 'vx0', 'address', side.mac, 'mtu', '1450', 'up');
    sh('addr', 'add', `10.250.${side.subnet}.0/32`, 'dev', 'vx0');
    sh('neigh', 'add', `10.250.${peer.subnet}.0`, 'lladdr', peer.mac, 'dev', 'vx0', 'nud', 'permanent');
    inNetns(side.host, 'bridge', ['fdb', 'add', peer.mac, 'dev', 'vx0', 'dst', peer.underlay, 'self', 'permanent']);
    sh('route', 'add', `10.250.${peer.subnet}.0/24`, 'via', `10.250.${peer.subnet}.0`, 'dev', 'vx0', 'onlink');
  }
}

/** One bounded iperf3 run (server one-off, client -t seconds); returns Gbit/s received. */
async function iperf(serverNetns: string, clientNetns: string, serverIp: string, streams: number): Promise<number> {
  const server = spawn('ip', ['netns', 'exec', serverNetns, 'iperf3', '-s', '-1', '-B', serverIp], { stdio: 'ignore' });
  await sleep(300);
  try {
    const result = inNetns(clientNetns, 'iperf3', ['-c', serverIp, '-t', String(seconds), '-P', String(streams), '-J'], { timeoutMs: (seconds + 20) * 1000 });
    const report = JSON.parse(result.stdout) as { end: { sum_received: { bits_per_second: number } } };
    return report.end.sum_received.bits_per_second / 1e9;
  } finally {
    if (server.exitCode === null) server.kill('SIGTERM');
  }
}

const cleanupHand = () => {
  const existing = new Set(listNetns());
  for (const side of HAND) for (const netns of [side.pod, side.host]) if (existing.has(netns)) run('ip', ['netns', 'del', netns], { allowFailure: true });
};

cleanupHand();
await lab.down();
try {
  await lab.up();
  handBuilt();
  const [h1, h2] = lab.layout.hosts as [LabHost, LabHost];
  if (!lab.ping(h1.podNetns, lab.podIp(h2) as string, 2) || !lab.ping(HAND[0].pod, '10.250.4.2', 2)) throw new Error('a pod path does not work');
  // ABBA order, repeated: on a small, noisy machine the first run of a pair tends to differ; medians of the
  // alternated samples cancel that bias.
  const median = (samples: number[]) => {
    const sorted = [...samples].sort((a, b) => a - b);
    const middle = sorted.length / 2;
    return sorted.length % 2 ? (sorted[Math.floor(middle)] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
  };
  const results: Record<string, Record<string, number | number[]>> = {};
  for (const streams of [1, 4]) {
    const ours: number[] = [];
    const hand: number[] = [];
    const runOurs = async () => ours.push(await iperf(h2.podNetns, h1.podNetns, lab.podIp(h2) as string, streams));
    const runHand = async () => hand.push(await iperf(HAND[1].pod, HAND[0].pod, '10.250.4.2', streams));
    for (let round = 0; round < rounds; round++) {
      if (round % 2 === 0) {
        await runOurs();
        await runHand();
      } else {
        await runHand();
        await runOurs();
      }
    }
    const underlay = await iperf(h2.netns, h1.netns, h2.underlayIp, streams);
    const [oursGbps, handGbps] = [median(ours), median(hand)];
    results[`${streams}-stream`] = {
      oursGbps: Number(oursGbps.toFixed(2)), handBuiltGbps: Number(handGbps.toFixed(2)), underlayGbps: Number(underlay.toFixed(2)),
      oursToHandBuilt: Number((oursGbps / handGbps).toFixed(3)), oursToUnderlay: Number((oursGbps / underlay).toFixed(3)),
      oursSamples: ours.map((v) => Number(v.toFixed(2))), handBuiltSamples: hand.map((v) => Number(v.toFixed(2))),
    };
    console.log(`TCP ${streams} stream(s), ${seconds} s × ${rounds} rounds (medians): ours ${oursGbps.toFixed(2)} Gbit/s [${ours.map((v) => v.toFixed(2)).join(' ')}], by hand ${handGbps.toFixed(2)} [${hand.map((v) => v.toFixed(2)).join(' ')}], underlay ${underlay.toFixed(2)} → ours/by-hand ${(oursGbps / handGbps).toFixed(3)} (goal ≥ 0.98), ours/underlay ${(oursGbps / underlay).toFixed(3)}`);
  }
  saveResult('vxlan-dataplane', { seconds, rounds, ...results });
} finally {
  cleanupHand();
  await lab.down();
}
