/**
 * End to end on the extension backend: 3 simulated hosts whose flanneld runs the lab's extension config
 * (lab-backends.ts) — a host-gw network built by commands: `ip route replace $SUBNET via $PUBLIC_IP dev eth0`
 * per peer, `ip route del …` when a peer goes, PreStartupCommand output published as BackendData,
 * PostStartupCommand using the lease's $SUBNET. Commands run as upstream runs them: split on white space, no
 * shell, `$VAR` expanded.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LabHost } from '../../src/lab/lab-layout.js';
import { inNetns } from '../../src/lab/shell.js';
import { labForSuite, waitFor } from '../support/lab-suite.js';

const lab = labForSuite({ prefix: 'ftx', hosts: 3, backend: 'extension' });
const [h1, h2, h3] = lab.layout.hosts as [LabHost, LabHost, LabHost];
const SUBNETS = '/coreos.com/network/subnets/';

/** subnet → etcd key and value, per host public IP. */
function leases(): Map<string, { key: string; subnet: string; value: string }> {
  const lines = lab.etcdctl(['get', '--prefix', SUBNETS]).stdout.split('\n');
  const byIp = new Map<string, { key: string; subnet: string; value: string }>();
  for (let index = 0; index + 1 < lines.length; index += 2) {
    const key = lines[index] as string;
    const value = lines[index + 1] as string;
    const ip = /"PublicIP":"([^"]+)"/.exec(value)?.[1] ?? '';
    byIp.set(ip, { key, value, subnet: key.slice(SUBNETS.length).replace('-', '/') });
  }
  return byIp;
}

function routes(host: LabHost): string[] {
  return inNetns(host.netns, 'ip', ['-4', 'route', 'show']).stdout.trim().split('\n').map((line) => line.trim());
}

describe('extension lab (3 hosts, host-gw built from commands)', () => {
  it('every pod reaches every pod', () => {
    assert.deepEqual(lab.pingMatrix(), []);
  });

  it('the commands made the network: a route per peer, the PreStartup output in the lease, PostStartup with $SUBNET', () => {
    const all = leases();
    const own = all.get(h1.underlayIp);
    assert.ok(own);
    assert.match(own.value, new RegExp(`^\\{"PublicIP":"${h1.underlayIp}","PublicIPv6":null,"BackendType":"extension","BackendData":"eth0@if\\d+ +UP +${h1.underlayIp}/24"\\}$`));
    const table = routes(h1);
    for (const peer of [h2, h3]) assert.ok(table.includes(`${all.get(peer.underlayIp)?.subnet} via ${peer.underlayIp} dev eth0`), table.join('\n'));
    assert.ok(table.includes(`blackhole ${own.subnet} metric 4000`), table.join('\n'));
    assert.match(lab.flanneldLog(h1), /"ran command" command="ip route replace \$SUBNET via \$PUBLIC_IP dev eth0"/);
  });

  it('a peer whose lease goes away: SubnetRemoveCommand deletes its route', async () => {
    const peer = leases().get(h3.underlayIp);
    assert.ok(peer);
    await lab.stopFlanneld(h3, 'SIGTERM');
    lab.etcdctl(['del', peer.key]);
    const route = `${peer.subnet} via ${h3.underlayIp} dev eth0`;
    await waitFor('route removed on h1 and h2', () => !routes(h1).includes(route) && !routes(h2).includes(route), 3000);
    assert.match(lab.flanneldLog(h1), /"subnet removed" hook="SubnetRemove"/);
    assert.deepEqual(lab.ping(h1.podNetns, lab.podIp(h2) as string), true);
  });
});
