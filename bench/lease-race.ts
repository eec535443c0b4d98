/**
 * Benchmark (issue 13): `--agents` flanneld subnet managers (500 by default; one process, each with its own etcd
 * client and connections, as separate hosts would have) start at once and race for leases in one /16 against a
 * real etcd. Per round: duplicates (two agents holding one subnet, or a stored key that does not match the
 * agent that acquired it: must be 0), agents that failed, time until every agent holds a lease, and etcd round
 * trips per agent (every unary etcd RPC counted: get config, list, grant, create/put, revoke) — median and max —
 * with lost races (a create that found the subnet taken) in total.
 * Run as root after `npm run build`: node dist/bench/lease-race.js [--agents 500] [--subnet-len 26] [--rounds 3]
 * Writes bench/results/lease-race.json. Everything stays in a namespace it makes (ftbenchsr<FLANNEL_TS_LAB_TAG>).
 */
import { parseArgs } from 'node:util';
import { EtcdClient } from '../src/adapters/etcd/etcd-client.js';
import { EtcdRegistry } from '../src/adapters/etcd/etcd-registry.js';
import { parseNetworkConfig } from '../src/config/network-config.js';
import type { Lease } from '../src/lease/lease.js';
import { IpAddress } from '../src/net/ip.js';
import { EtcdSubnetManager } from '../src/subnet/etcd-subnet-manager.js';
import { silentLogger } from '../src/support/logger.js';
import { percentile, prepareNamespace, reExecInNamespace, saveResult } from './bench-namespace.js';
import { round2, spreadOf } from './bench-process.js';

const { values } = parseArgs({
  options: {
    agents: { type: 'string', default: '500' }, 'subnet-len': { type: 'string', default: '26' }, rounds: { type: 'string', default: '3' },
    inside: { type: 'boolean', default: false },
  },
});
const agentCount = Number(values.agents);
const subnetLen = Number(values['subnet-len']);
const rounds = Number(values.rounds);
const CONFIG = { Network: '10.0.0.0/16', SubnetLen: subnetLen, Backend: { Type: 'vxlan' } };

/** Counts every unary etcd RPC per client (the client's one request path), to report round trips per agent. */
const rpcs = new WeakMap<EtcdClient, number>();
const prototype = EtcdClient.prototype as unknown as { call: (...args: unknown[]) => Promise<unknown> };
const call = prototype.call;
prototype.call = function counted(this: EtcdClient, ...args: unknown[]) {
  rpcs.set(this, (rpcs.get(this) ?? 0) + 1);
  return call.apply(this, args);
};

// After the counter is in place (top-level await: what follows this line is not initialised while it waits).
if (!reExecInNamespace(`ftbenchsr${process.env.FLANNEL_TS_LAB_TAG ?? ''}`)) await inside();

interface RoundResult {
  readonly allLeasedMs: number;
  readonly failed: number;
  readonly duplicates: number;
  readonly rpcsPerAgent: { readonly median: number; readonly max: number };
  readonly lostRaces: number;
}

async function inside(): Promise<void> {
  const etcd = await prepareNamespace();
  const admin = new EtcdClient({ endpoints: [etcd.url] });
  const results: RoundResult[] = [];
  try {
    await admin.put('/coreos.com/network/config', JSON.stringify(CONFIG));
    const config = parseNetworkConfig(JSON.stringify(CONFIG));
    console.log(`lease race: ${agentCount} agents, 10.0.0.0/16 in /${subnetLen}s, ${rounds} rounds`);
    for (let round = 0; round < rounds; round++) {
      const result = await oneRound(etcd.url, config, admin);
      results.push(result);
      console.log(`  round ${round + 1}: all leased in ${result.allLeasedMs} ms, ${result.failed} failed, ${result.duplicates} duplicates, ` +
        `etcd round trips per agent median ${result.rpcsPerAgent.median} max ${result.rpcsPerAgent.max}, ${result.lostRaces} lost races`);
    }
  } finally {
    admin.close();
    await etcd.stop();
  }
  const show = (pick: (row: RoundResult) => number) => {
    const spread = spreadOf(results.map(pick));
    return `${spread.median} [${spread.min}–${spread.max}]`;
  };
  console.log(`medians over ${rounds} rounds [min–max]: all leased ${show((row) => row.allLeasedMs)} ms, duplicates ${show((row) => row.duplicates)}, ` +
    `failed ${show((row) => row.failed)}, round trips per agent median ${show((row) => row.rpcsPerAgent.median)} max ${show((row) => row.rpcsPerAgent.max)}, lost races ${show((row) => row.lostRaces)}`);
  saveResult('lease-race', { agents: agentCount, subnetLen, rounds: results });
}

async function oneRound(url: string, config: ReturnType<typeof parseNetworkConfig>, admin: EtcdClient): Promise<RoundResult> {
  for (const kv of (await admin.getPrefix('/coreos.com/network/subnets/')).kvs) await admin.delete(kv.key);
  const registries = Array.from({ length: agentCount }, () => new EtcdRegistry({ endpoints: [url], prefix: '/coreos.com/network' }));
  const clients = registries.map((registry) => (registry as unknown as { client: EtcdClient }).client);
  const managers = registries.map((registry) => new EtcdSubnetManager({ registry, logger: silentLogger() }));
  try {
    const started = process.hrtime.bigint();
    const outcomes = await Promise.allSettled(managers.map((manager, index) => manager.acquireLease(config, {
      publicIP: IpAddress.parse(`198.18.${1 + Math.floor(index / 250)}.${1 + (index % 250)}`), backendType: 'vxlan',
    })));
    const allLeasedMs = Math.round(Number(process.hrtime.bigint() - started) / 1e6);
    const leases = outcomes.flatMap((outcome) => (outcome.status === 'fulfilled' ? [outcome.value] : []));
    const stored = new Map((await admin.getPrefix('/coreos.com/network/subnets/')).kvs.map((kv) => [kv.key.slice('/coreos.com/network/subnets/'.length), kv.value]));
    const bySubnet = new Map<string, Lease[]>();
    for (const lease of leases) bySubnet.set(lease.subnet.toString(), [...(bySubnet.get(lease.subnet.toString()) ?? []), lease]);
    const shared = [...bySubnet.values()].filter((holders) => holders.length > 1).reduce((sum, holders) => sum + holders.length - 1, 0);
    // Every agent's lease must be in etcd with that agent's public IP (else two agents think they hold it).
    const mismatched = leases.filter((lease) => !stored.get(lease.subnet.toString().replace('/', '-'))?.includes(`"PublicIP":"${lease.attrs.publicIP}"`)).length;
    const counts = clients.map((client) => rpcs.get(client) ?? 0).sort((a, b) => a - b);
    // A winning attempt is a list, a grant and a create; each lost one adds a list, a grant, a create and a revoke.
    const lostRaces = counts.reduce((sum, count) => sum + Math.max(0, (count - 3) / 4), 0);
    return {
      allLeasedMs, failed: agentCount - leases.length, duplicates: shared + mismatched,
      rpcsPerAgent: { median: round2(percentile(counts, 0.5)), max: counts.at(-1) ?? NaN }, lostRaces: Math.round(lostRaces),
    };
  } finally {
    await Promise.all(managers.map((manager) => manager.close()));
  }
}
