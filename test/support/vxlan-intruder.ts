/**
 * A host on the underlay that is not a cluster member and injects VXLAN frames toward a pod: a vxlan device in
 * its own namespace, with a hand-made FDB entry and neighbour pointing at the target host's VTEP, so that its
 * pings arrive at the target's UDP port as genuine VXLAN frames (VNI, inner MAC = the target's VTEP MAC).
 */
import { readFileSync } from 'node:fs';
import type { Lab } from '../../src/lab/lab.js';
import type { LabHost } from '../../src/lab/lab-layout.js';
import { inNetns } from '../../src/lab/shell.js';
import { captureWhile } from './lab-suite.js';

export interface Intruder {
  /** The intruder's inner (overlay) address, the source of its pings. */
  readonly innerIp: string;
  /** A subnet of the cluster network no host holds; a lease for it makes the intruder a member. */
  readonly subnet: string;
  readonly vtepMac: string;
  /** Pings the pod from the intruder (3 packets, 0.2 s apart); replies are not expected. */
  ping(podIp: string): void;
}

function subnetOf(lab: Lab, host: LabHost): string {
  const line = readFileSync(lab.subnetFile(host), 'utf8').split('\n').find((entry) => entry.startsWith('FLANNEL_SUBNET='));
  return (line?.split('=')[1] ?? '').replace(/\.1\/24$/, '.0/24');
}

/** Builds the intruder in the lab's "outside" namespace (created by the caller), aimed at every host's pods. */
export function makeIntruder(lab: Lab, vni = 1, port = 8472): Intruder {
  const netns = lab.layout.outsideNetns;
  const taken = new Set(lab.layout.hosts.map((host) => subnetOf(lab, host)));
  const subnet = [...Array(250).keys()].map((index) => `10.244.${250 - index}.0/24`).find((candidate) => !taken.has(candidate)) as string;
  const innerIp = subnet.replace('.0/24', '.0');
  inNetns(netns, 'ip', ['link', 'add', 'vx0', 'type', 'vxlan', 'id', String(vni), 'dstport', String(port), 'local', lab.layout.outsideIp, 'dev', 'eth0', 'nolearning']);
  inNetns(netns, 'ip', ['addr', 'add', `${innerIp}/32`, 'dev', 'vx0']);
  inNetns(netns, 'ip', ['link', 'set', 'vx0', 'up']);
  for (const target of lab.layout.hosts) {
    const targetSubnet = subnetOf(lab, target);
    const targetMac = JSON.parse(inNetns(target.netns, 'ip', ['-j', 'link', 'show', `flannel.${vni}`]).stdout)[0].address as string;
    const gateway = targetSubnet.replace('/24', '');
    inNetns(netns, 'ip', ['neigh', 'add', gateway, 'lladdr', targetMac, 'dev', 'vx0', 'nud', 'permanent']);
    inNetns(netns, 'bridge', ['fdb', 'append', targetMac, 'dev', 'vx0', 'dst', target.underlayIp]);
    inNetns(netns, 'ip', ['route', 'add', targetSubnet, 'via', gateway, 'dev', 'vx0', 'onlink']);
  }
  const vtepMac = JSON.parse(inNetns(netns, 'ip', ['-j', 'link', 'show', 'vx0']).stdout)[0].address as string;
  return {
    innerIp, subnet, vtepMac,
    ping: (podIp) => void inNetns(netns, 'ping', ['-n', '-q', '-c', '3', '-i', '0.2', '-W', '1', podIp], { allowFailure: true }),
  };
}

/**
 * Counts ICMP echo requests from `source` seen in `netns` on eth0 while `traffic` runs; tcpdump stops after
 * `seconds` (or after the first packet), so a negative answer costs `seconds`.
 */
export async function echoRequestsSeen(netns: string, source: string, seconds: number, traffic: () => void): Promise<number> {
  const output = await captureWhile(netns, 'eth0', ['icmp[icmptype] == icmp-echo and src', source], 1, traffic, seconds);
  return output.split('\n').filter((line) => line.includes('ICMP echo request')).length;
}
