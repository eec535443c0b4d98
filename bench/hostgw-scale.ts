/**
 * Benchmark: time for flanneld (host-gw) to program 5,000 routes from 5,000 leases already in etcd, from process
 * start to the last route present, and its RSS then; side by side with the kernel's own limit for the same
 * routes (`ip -batch`, one process, no etcd) measured in the same run. Then, at that scale: new lease → route
 * present (100 leases) and a route deleted by someone else → back (20 times).
 * Run as root after `npm run build`: node dist/bench/hostgw-scale.js [--leases 5000]
 * Prints figures and writes bench/results/hostgw-scale.json. Everything stays inside a namespace it makes.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { EtcdClient } from '../src/adapters/etcd/etcd-client.js';
import * as C from '../src/adapters/netlink/constants.js';
import { decodeRoute } from '../src/adapters/netlink/messages.js';
import { NetlinkKernel } from '../src/adapters/netlink/netlink-kernel.js';
import { NetlinkSocket } from '../src/adapters/netlink/netlink-socket.js';
import type { Route } from '../src/dataplane/kernel-objects.js';
import { run } from '../src/lab/shell.js';
import { sleep } from '../src/support/timing.js';
import { benchPeer, inBenchEnvironment, reExecInNamespace, reconciledAt, rssMb, saveResult, summary, timeUntil, writeLeases } from './bench-namespace.js';

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
    const value = (index: number) => `{"PublicIP":"${benchPeer(index).publicIP}","PublicIPv6":null,"BackendType":"host-gw"}`;
    const leaseId = await writeLeases(client, 'host-gw', leaseCount, value);

    const started = Date.now();
    const flanneld = startFlanneld();
    // flanneld's log says when the routes are in (polling the kernel would contend for the RTNL lock); verify.
    const programMs = (await reconciledAt(flanneld.log, leaseCount, flanneld.child)) - started;
    const routes = await count(kernel, 111);
    if (routes !== leaseCount) throw new Error(`flanneld reported ${leaseCount} routes, the kernel has ${routes}`);
    const rss = rssMb(flanneld.child.pid);

    const monitor = NetlinkSocket.open({ groups: C.RTMGRP_IPV4_ROUTE, receiveTimeoutMs: 2000 });
    const seen = (match: (route: Route) => boolean) => () => monitor.read().some((message) => {
      const route = message.type === C.RTM_NEWROUTE ? decodeRoute(message.payload) : undefined;
      return route !== undefined && route.protocol === 111 && match(route);
    });
    const latencies: number[] = [];
    const repairs: number[] = [];
    try {
      for (let sample = 0; sample < 100; sample++) {
        const peer = benchPeer(leaseCount + sample);
        const written = process.hrtime.bigint();
        await client.put(`/coreos.com/network/subnets/${peer.key}`, value(leaseCount + sample), leaseId);
        latencies.push(timeUntil(written, seen((route) => route.dst.toString() === peer.subnet)));
        await sleep(20);
      }
      for (const route of (await kernel.listRoutes()).filter((candidate) => candidate.protocol === 111).slice(0, 20)) {
        const deleted = process.hrtime.bigint();
        const failed = await kernel.applyRouteOps([{ kind: 'delete', route }]);
        if (failed.length > 0) throw failed[0]?.error;
        repairs.push(timeUntil(deleted, seen((back) => back.dst.equals(route.dst))));
        await sleep(50);
      }
    } finally {
      monitor.close();
      client.close();
    }
    const result = {
      leases: leaseCount,
      flanneldStartToLastRouteMs: Math.round(programMs),
      ipBatchSameRoutesMs: Math.round(baselineMs),
      ratioFlanneldToIpBatch: Number((programMs / baselineMs).toFixed(2)),
      flanneldRssMb: rss,
      newLeaseToRouteMs: summary(latencies),
      routeDeletedToRepairedMs: summary(repairs),
    };
    console.log(`host-gw, ${leaseCount} leases in etcd:`);
    console.log(`  flanneld start → last route present: ${result.flanneldStartToLastRouteMs} ms (includes Node start-up, etcd list, interface selection, lease)`);
    console.log(`  ip -batch, same ${leaseCount} routes:   ${result.ipBatchSameRoutesMs} ms (the kernel's limit, no etcd)`);
    console.log(`  ratio flanneld / ip -batch:          ${result.ratioFlanneldToIpBatch}`);
    console.log(`  flanneld RSS at that point:          ${result.flanneldRssMb} MB`);
    const { newLeaseToRouteMs: lease, routeDeletedToRepairedMs: repair } = result;
    console.log(`  new lease → route, ${lease.samples} leases:     p50 ${lease.p50} ms, p99 ${lease.p99} ms, max ${lease.max} ms`);
    console.log(`  a route deleted → back, ${repair.samples} times:  p50 ${repair.p50} ms, p99 ${repair.p99} ms, max ${repair.max} ms`);
    saveResult('hostgw-scale', result);
  });
}
