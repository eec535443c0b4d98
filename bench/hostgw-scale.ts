/**
 * Benchmark: time for flanneld (host-gw) to program 5,000 routes from 5,000 leases already in etcd, from process
 * start to the last route present, and its RSS then; side by side with the kernel's own limit for the same
 * routes (`ip -batch`, one process, no etcd) measured in the same run.
 * Run as root after `npm run build`: node dist/bench/hostgw-scale.js [--leases 5000]
 * Prints figures and writes bench/results/hostgw-scale.json. Everything stays inside a namespace it makes.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { EtcdClient } from '../src/adapters/etcd/etcd-client.js';
import { NetlinkKernel } from '../src/adapters/netlink/netlink-kernel.js';
import { run } from '../src/lab/shell.js';
import { benchPeer, inBenchEnvironment, reExecInNamespace, reconciledAt, rssMb, saveResult, writeLeases } from './bench-namespace.js';

const { values } = parseArgs({ options: { leases: { type: 'string', default: '5000' }, inside: { type: 'boolean', default: false } } });
const leaseCount = Number(values.leases);

// FLANNEL_TS_LAB_TAG keeps this bench's namespace apart from other checkouts' labs and benches.
if (!reExecInNamespace(`ftbench${process.env.FLANNEL_TS_LAB_TAG ?? ''}`)) await inside();

async function count(kernel: NetlinkKernel, protocol: number): Promise<number> {
  return (await kernel.listRoutes()).filter((route) => route.protocol === protocol).length;
}

async function inside(): Promise<void> {
  await inBenchEnvironment(async ({ work, etcd, kernel, startFlanneld }) => {
    const batch = Array.from({ length: leaseCount }, (_, index) => `route add ${benchPeer(index).subnet} via ${benchPeer(index).publicIP} dev eth0 proto 112`).join('\n');
    writeFileSync(join(work, 'routes.batch'), batch + '\n');
    const baselineStart = process.hrtime.bigint();
    run('ip', ['-batch', join(work, 'routes.batch')]);
    const baselineMs = Number(process.hrtime.bigint() - baselineStart) / 1e6;
    if ((await count(kernel, 112)) !== leaseCount) throw new Error('baseline did not install every route');
    run('ip', ['route', 'flush', 'proto', '112']);

    const client = new EtcdClient({ endpoints: [etcd.url] });
    await writeLeases(client, 'host-gw', leaseCount, (index) => `{"PublicIP":"${benchPeer(index).publicIP}","PublicIPv6":null,"BackendType":"host-gw"}`);
    client.close();

    const started = Date.now();
    const flanneld = startFlanneld();
    // flanneld's log says when the routes are in (polling the kernel would contend for the RTNL lock); verify.
    const programMs = (await reconciledAt(flanneld.log, leaseCount, flanneld.child)) - started;
    const routes = await count(kernel, 111);
    if (routes !== leaseCount) throw new Error(`flanneld reported ${leaseCount} routes, the kernel has ${routes}`);
    const result = {
      leases: leaseCount,
      flanneldStartToLastRouteMs: Math.round(programMs),
      ipBatchSameRoutesMs: Math.round(baselineMs),
      ratioFlanneldToIpBatch: Number((programMs / baselineMs).toFixed(2)),
      flanneldRssMb: rssMb(flanneld.child.pid),
    };
    console.log(`host-gw, ${leaseCount} leases in etcd:`);
    console.log(`  flanneld start → last route present: ${result.flanneldStartToLastRouteMs} ms (includes Node start-up, etcd list, interface selection, lease)`);
    console.log(`  ip -batch, same ${leaseCount} routes:   ${result.ipBatchSameRoutesMs} ms (the kernel's limit, no etcd)`);
    console.log(`  ratio flanneld / ip -batch:          ${result.ratioFlanneldToIpBatch}`);
    console.log(`  flanneld RSS at that point:          ${result.flanneldRssMb} MB`);
    saveResult('hostgw-scale', result);
  });
}
