/**
 * Benchmark: time for flanneld (host-gw) to program 5,000 routes from 5,000 leases already in etcd, from process
 * start to the last route present, and its RSS then; side by side with the kernel's own limit for the same
 * routes (`ip -batch`, one process, no etcd) measured in the same run.
 *
 * Everything happens in a network namespace the script makes (etcd on its loopback, fake peers on
 * 198.19.0.0/16 of a veth inside it); nothing leaves it. Run as root after `npm run build`:
 *   node dist/bench/hostgw-scale.js [--leases 5000]
 * Prints figures and writes bench/results/hostgw-scale.json.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Etcd3 } from 'etcd3';
import { NetlinkKernel } from '../src/adapters/netlink/netlink-kernel.js';
import { FLANNELD_JS } from '../src/lab/lab.js';
import { run } from '../src/lab/shell.js';
import { sleep } from '../src/support/timing.js';
import { startEtcd } from '../test/support/etcd-server.js';

const NETNS = 'ftbench';
const { values } = parseArgs({ options: { leases: { type: 'string', default: '5000' }, inside: { type: 'boolean', default: false } } });
const leaseCount = Number(values.leases);

if (!values.inside) {
  run('ip', ['netns', 'del', NETNS], { allowFailure: true });
  run('ip', ['netns', 'add', NETNS]);
  try {
    const result = spawnSync('ip', ['netns', 'exec', NETNS, process.execPath, process.argv[1] as string, '--inside', '--leases', String(leaseCount)], { stdio: 'inherit' });
    process.exitCode = result.status ?? 1;
  } finally {
    run('ip', ['netns', 'del', NETNS], { allowFailure: true });
  }
} else {
  await inside();
}

function peer(index: number): { subnet: string; key: string; publicIP: string } {
  const second = 1 + Math.floor(index / 256);
  const third = index % 256;
  return { subnet: `10.${second}.${third}.0/24`, key: `10.${second}.${third}.0-24`, publicIP: `198.19.${Math.floor(index / 250)}.${1 + (index % 250)}` };
}

async function ourRouteCount(kernel: NetlinkKernel, protocol: number): Promise<number> {
  return (await kernel.listRoutes()).filter((route) => route.protocol === protocol).length;
}

async function inside(): Promise<void> {
  run('ip', ['link', 'set', 'lo', 'up']);
  run('ip', ['link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0p']);
  run('ip', ['addr', 'add', '198.18.0.1/15', 'dev', 'eth0']);
  run('ip', ['link', 'set', 'eth0', 'up']);
  run('ip', ['link', 'set', 'eth0p', 'up']);
  const kernel = NetlinkKernel.open();
  const work = mkdtempSync(join(tmpdir(), 'flannel-ts-bench-'));
  const etcd = await startEtcd(24790);
  let flanneld: ChildProcess | undefined;
  try {
    // Baseline: the same routes through `ip -batch` (the kernel's limit for route programming).
    const batch = Array.from({ length: leaseCount }, (_, index) => `route add ${peer(index).subnet} via ${peer(index).publicIP} dev eth0 proto 112`).join('\n');
    writeFileSync(join(work, 'routes.batch'), batch + '\n');
    const baselineStart = process.hrtime.bigint();
    run('ip', ['-batch', join(work, 'routes.batch')]);
    const baselineMs = Number(process.hrtime.bigint() - baselineStart) / 1e6;
    if ((await ourRouteCount(kernel, 112)) !== leaseCount) throw new Error('baseline did not install every route');
    run('ip', ['route', 'flush', 'proto', '112']);

    // The leases, written the way 5,000 flanneld hosts would have (value JSON as upstream, under a TTL).
    const client = new Etcd3({ hosts: etcd.url });
    await client.put('/coreos.com/network/config').value(JSON.stringify({ Network: '10.0.0.0/8', Backend: { Type: 'host-gw' } }));
    const grant = await client.leaseClient.leaseGrant({ TTL: 86400 });
    for (let start = 0; start < leaseCount; start += 100) {
      const puts = [];
      for (let index = start; index < Math.min(leaseCount, start + 100); index++) {
        const { key, publicIP } = peer(index);
        puts.push(client.put(`/coreos.com/network/subnets/${key}`).value(`{"PublicIP":"${publicIP}","PublicIPv6":null,"BackendType":"host-gw"}`).lease(grant.ID));
      }
      await client.if('/coreos.com/network/config', 'Version', '>', 0).then(...puts).commit();
    }
    client.close();

    const started = process.hrtime.bigint();
    flanneld = spawn(process.execPath, [FLANNELD_JS, '--etcd-endpoints', etcd.url, '--iface', 'eth0', '--subnet-file', join(work, 'subnet.env'), '--iptables-forward-rules=false'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    flanneld.stderr?.on('data', (chunk: Buffer) => (log += chunk.toString()));
    let count = 0;
    const deadline = Date.now() + 120_000;
    while ((count = await ourRouteCount(kernel, 111)) < leaseCount) {
      if (Date.now() > deadline || flanneld.exitCode !== null) throw new Error(`only ${count} routes; flanneld log:\n${log.slice(-2000)}`);
      await sleep(5);
    }
    const programMs = Number(process.hrtime.bigint() - started) / 1e6;
    const rssKb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${flanneld.pid}/status`, 'utf8'))?.[1] ?? 0);
    const result = {
      leases: leaseCount,
      flanneldStartToLastRouteMs: Math.round(programMs),
      ipBatchSameRoutesMs: Math.round(baselineMs),
      ratioFlanneldToIpBatch: Number((programMs / baselineMs).toFixed(2)),
      flanneldRssMb: Number((rssKb / 1024).toFixed(1)),
    };
    console.log(`host-gw, ${leaseCount} leases in etcd:`);
    console.log(`  flanneld start → last route present: ${result.flanneldStartToLastRouteMs} ms (includes Node start-up, etcd list, interface selection, lease)`);
    console.log(`  ip -batch, same ${leaseCount} routes:   ${result.ipBatchSameRoutesMs} ms (the kernel's limit, no etcd)`);
    console.log(`  ratio flanneld / ip -batch:          ${result.ratioFlanneldToIpBatch}`);
    console.log(`  flanneld RSS at that point:          ${result.flanneldRssMb} MB`);
    mkdirSync('bench/results', { recursive: true });
    writeFileSync('bench/results/hostgw-scale.json', JSON.stringify(result, null, 2) + '\n');
  } finally {
    if (flanneld && flanneld.exitCode === null) {
      const exited = new Promise((resolve) => flanneld?.once('exit', resolve));
      flanneld.kill('SIGTERM');
      await exited;
    }
    kernel.close();
    await etcd.stop();
    rmSync(work, { recursive: true, force: true });
  }
}
