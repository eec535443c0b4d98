/**
 * Benchmark, peer admission (no root, no I/O): cost of one lease event (a peer replaced, removed, added back)
 * with 500 and with 5,000 admitted peers, side by side in alternating rounds — the ratio should stay near 1
 * (O(that peer), not O(peers)) — plus the time to admit a whole snapshot of 5,000 (the tracker's first
 * listing), dual stack, every lease checked against the config and for overlaps.
 * Run after `npm run build`: node dist/bench/peer-admission.js [--rounds 15]. Writes bench/results/peer-admission.json.
 */
import { parseArgs } from 'node:util';
import { parseNetworkConfig } from '../src/config/network-config.js';
import { type Lease, leaseKey } from '../src/lease/lease.js';
import { PeerAdmission } from '../src/lease/peer-admission.js';
import { Cidr, IpAddress } from '../src/net/ip.js';
import { saveResult } from './bench-namespace.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '15' } } });
const rounds = Number(values.rounds);
const config = parseNetworkConfig('{"Network":"10.0.0.0/8","SubnetLen":24,"EnableIPv6":true,"IPv6Network":"fd00:10::/48","Backend":{"Type":"host-gw"}}');
const own = peer(0);

function peer(index: number, publicOffset = 0): Lease {
  const third = index + 1;
  return {
    subnet: Cidr.parse(`10.${third >> 8}.${third & 255}.0/24`), ipv6Subnet: Cidr.parse(`fd00:10:0:${third.toString(16)}::/64`),
    attrs: { publicIP: IpAddress.fromBigInt(4, 0xc6120000n + BigInt(index + publicOffset + 10)), publicIPv6: IpAddress.parse(`fd00:198::${(index + 10).toString(16)}`), backendType: 'host-gw' },
    createRevision: BigInt(index + 1),
  };
}

function admitted(count: number): { admission: PeerAdmission; snapshotMs: number } {
  const admission = new PeerAdmission({ config, ownPublicIPs: [own.attrs.publicIP] });
  admission.setOwn(own);
  const leases = Array.from({ length: count }, (_, index) => peer(index + 1));
  const started = performance.now();
  admission.update(leases.map((lease) => [leaseKey(lease), lease] as const));
  const snapshotMs = performance.now() - started;
  if (admission.peers().length !== count) throw new Error(`admitted ${admission.peers().length} of ${count}`);
  return { admission, snapshotMs };
}

/** Microseconds per event: replace a peer's value, remove it, add it back (3 events), over `events` peers. */
function eventCostUs(admission: PeerAdmission, count: number, events = 300): number {
  const started = performance.now();
  for (let step = 0; step < events; step++) {
    const index = 1 + ((step * 7919) % count);
    const key = leaseKey(peer(index));
    admission.update([[key, peer(index, 1)]]);
    admission.update([[key, undefined]]);
    admission.update([[key, peer(index)]]);
  }
  return ((performance.now() - started) * 1000) / (events * 3);
}

const median = (list: number[]) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)] as number;
const spread = (list: number[]) => `${Math.min(...list).toFixed(1)}–${Math.max(...list).toFixed(1)}`;

const small = admitted(500);
const large = admitted(5000);
const snapshots: number[] = [large.snapshotMs];
const costs: Record<'500' | '5000', number[]> = { 500: [], 5000: [] };
const ratios: number[] = [];
for (let round = 0; round < rounds; round++) {
  // Alternate which size goes first, so drift on a noisy machine hits both alike.
  const order = round % 2 === 0 ? (['500', '5000'] as const) : (['5000', '500'] as const);
  const measured: Partial<Record<'500' | '5000', number>> = {};
  for (const size of order) measured[size] = eventCostUs(size === '500' ? small.admission : large.admission, Number(size));
  costs[500].push(measured[500] as number);
  costs[5000].push(measured[5000] as number);
  ratios.push((measured[5000] as number) / (measured[500] as number));
  if (round < 5) snapshots.push(admitted(5000).snapshotMs);
}
const result = {
  eventUs: { peers500: { median: median(costs[500]), spread: spread(costs[500]) }, peers5000: { median: median(costs[5000]), spread: spread(costs[5000]) } },
  ratio5000to500: { median: median(ratios), spread: spread(ratios) },
  snapshot5000Ms: { median: median(snapshots), spread: spread(snapshots) },
  rounds,
};
console.log(`one lease event, 500 peers:   median ${result.eventUs.peers500.median.toFixed(1)} µs (spread ${result.eventUs.peers500.spread})`);
console.log(`one lease event, 5,000 peers: median ${result.eventUs.peers5000.median.toFixed(1)} µs (spread ${result.eventUs.peers5000.spread})`);
console.log(`ratio 5,000 / 500 (same round): median ${result.ratio5000to500.median.toFixed(2)} (spread ${result.ratio5000to500.spread}); 1.0 = independent of the peer count`);
console.log(`admitting a snapshot of 5,000 dual-stack leases: median ${result.snapshot5000Ms.median.toFixed(1)} ms (spread ${result.snapshot5000Ms.spread})`);
saveResult('peer-admission', result);
