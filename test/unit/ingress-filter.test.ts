/** The overlay ingress filter: rule rendering in both modes, the reconciler's handling of it, and the daemon feeding it peers. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Daemon, trafficSpecs } from '../../src/daemon/daemon.js';
import { IFA_F_PERMANENT } from '../../src/dataplane/kernel-objects.js';
import { MemoryKernel } from '../../src/dataplane/memory-kernel.js';
import { parseNetworkConfig } from '../../src/config/network-config.js';
import type { Lease } from '../../src/lease/lease.js';
import { Cidr, IpAddress, type IpFamily } from '../../src/net/ip.js';
import { EtcdSubnetManager } from '../../src/subnet/etcd-subnet-manager.js';
import { MemoryRegistry } from '../../src/subnet/memory-registry.js';
import { silentLogger } from '../../src/support/logger.js';
import { sleep } from '../../src/support/timing.js';
import { ScriptFirewall } from '../support/script-firewall.js';
import type { Firewall } from '../../src/traffic/firewall.js';
import { FirewallReconciler } from '../../src/traffic/firewall-reconciler.js';
import { ownIpsetLines, overlayPortOf, peerAddresses, renderIpsetRestore } from '../../src/traffic/ingress-rules.js';
import { type TrafficSpec, iptablesTables, renderIptablesRestore, renderNftables } from '../../src/traffic/traffic-rules.js';

const ip = (text: string) => IpAddress.parse(text);
const base: TrafficSpec = { family: 4, network: Cidr.parse('10.244.0.0/16'), subnet: Cidr.parse('10.244.1.0/24'), ipMasq: false, forwardRules: false, randomFully: false };
const filtered: TrafficSpec = { ...base, ingress: { protocol: 'udp', port: 8472, peers: [ip('198.18.0.12'), ip('198.18.0.13')] } };

describe('ingress filter rules', () => {
  it('iptables: a chain jumped to first in INPUT for the overlay port, peers from an ipset return, the rest drops', () => {
    assert.equal(renderIptablesRestore(iptablesTables(filtered), ''), [
      '*filter',
      ':FLANNEL-INGRESS - [0:0]',
      '-I INPUT 1 -p udp -m udp --dport 8472 -m comment --comment "flanneld overlay ingress" -j FLANNEL-INGRESS',
      '-A FLANNEL-INGRESS -m set --match-set flannel-peers-v4 src -m comment --comment "flanneld overlay ingress" -j RETURN',
      '-A FLANNEL-INGRESS -m comment --comment "flanneld overlay ingress" -j DROP',
      'COMMIT',
      '',
    ].join('\n'));
  });
  it('iptables: an existing jump (as iptables-save prints it) is kept where it is; turning the filter off removes the chain', () => {
    const saved = [
      '*filter', ':INPUT ACCEPT [0:0]', ':FLANNEL-INGRESS - [0:0]', '-A INPUT -j OTHER',
      '-A INPUT -p udp -m udp --dport 8472 -m comment --comment "flanneld overlay ingress" -j FLANNEL-INGRESS', 'COMMIT',
    ].join('\n');
    assert.doesNotMatch(renderIptablesRestore(iptablesTables(filtered), saved), /INPUT 1|-D INPUT/);
    assert.equal(renderIptablesRestore(iptablesTables(base), saved), [
      '*filter', ':FLANNEL-INGRESS - [0:0]',
      '-D INPUT -p udp -m udp --dport 8472 -m comment --comment "flanneld overlay ingress" -j FLANNEL-INGRESS',
      '-X FLANNEL-INGRESS', 'COMMIT', '',
    ].join('\n'));
    const movedPort = renderIptablesRestore(iptablesTables({ ...filtered, ingress: { protocol: 'udp', port: 4789, peers: [] } }), saved);
    assert.match(movedPort, /-D INPUT -p udp -m udp --dport 8472 .*\n-I INPUT 1 -p udp -m udp --dport 4789 /);
  });
  it('ipset: filled in a scratch set and swapped in, one family per set', () => {
    assert.equal(renderIpsetRestore(4, [ip('198.18.0.12')]), [
      'create flannel-peers-v4 hash:ip family inet', 'create flannel-peers-v4-new hash:ip family inet', 'flush flannel-peers-v4-new',
      'add flannel-peers-v4-new 198.18.0.12', 'swap flannel-peers-v4-new flannel-peers-v4', 'destroy flannel-peers-v4-new', '',
    ].join('\n'));
    assert.match(renderIpsetRestore(6, []), /^create flannel-peers-v6 hash:ip family inet6\n/);
    const saved = 'create flannel-peers-v4 hash:ip family inet hashsize 1024 maxelem 65536 bucketsize 12 initval 0x4535bdff\nadd flannel-peers-v4 198.18.0.13\nadd flannel-peers-v4 198.18.0.12\n';
    assert.deepEqual(ownIpsetLines(saved), ['ipset flannel-peers-v4', 'add flannel-peers-v4 198.18.0.12', 'add flannel-peers-v4 198.18.0.13']);
    assert.deepEqual(ownIpsetLines(''), []);
  });
  it('nftables: a peer set and an input chain dropping overlay UDP from anyone else, in our table', () => {
    const script = renderNftables(filtered);
    assert.ok(script.includes([
      '\tset overlay_peers {', '\t\ttype ipv4_addr', '\t\telements = { 198.18.0.12, 198.18.0.13 }', '\t}',
      '\tchain overlay_ingress {', '\t\ttype filter hook input priority filter; policy accept;', '\t\tcomment "overlay traffic only from peers"',
      '\t\tudp dport 8472 ip saddr != @overlay_peers drop', '\t}',
    ].join('\n')), script);
    const v6 = renderNftables({ ...filtered, family: 6, network: Cidr.parse('fd00::/56'), subnet: Cidr.parse('fd00::/64'), ingress: { protocol: 'udp', port: 8472, peers: [] } });
    assert.match(v6, /type ipv6_addr\n\t\}/, 'no elements line for an empty set');
    assert.match(v6, /udp dport 8472 ip6 saddr != @overlay_peers drop/);
    assert.doesNotMatch(renderNftables(base), /overlay/);
  });
  it('peer addresses: one family, no unspecified, sorted, unique', () => {
    const list = [ip('198.18.0.13'), ip('0.0.0.0'), undefined, ip('198.18.0.2'), ip('fd00::1'), ip('198.18.0.13')];
    assert.deepEqual(peerAddresses(list, 4).map(String), ['198.18.0.2', '198.18.0.13']);
    assert.deepEqual(peerAddresses(list, 6).map(String), ['fd00::1']);
  });
  it('the overlay port comes from the backend: vxlan Port, default 8472; none for host-gw', () => {
    const config = (backend: string) => parseNetworkConfig(`{"Network":"10.244.0.0/16","Backend":${backend}}`);
    assert.deepEqual([overlayPortOf(config('{"Type":"vxlan"}')), overlayPortOf(config('{"Type":"vxlan","Port":4789}')), overlayPortOf(config('{"Type":"host-gw"}'))], [8472, 4789, undefined]);
  });
});

describe('trafficSpecs with the ingress filter', () => {
  const lease = (subnet: string, publicIP: string, publicIPv6?: string): Lease => ({
    subnet: Cidr.parse(subnet),
    attrs: { publicIP: ip(publicIP), ...(publicIPv6 ? { publicIPv6: ip(publicIPv6) } : {}), backendType: 'vxlan' },
  });
  const features = { ipMasq: false, forwardRules: true, randomFully: false };
  it('gives each family its peers\u2019 addresses of that family; undefined peers stay unknown', () => {
    const config = parseNetworkConfig('{"Network":"10.244.0.0/16","EnableIPv6":true,"IPv6Network":"fd00:10:244::/56","Backend":{"Type":"vxlan"}}');
    const own: Lease = { ...lease('10.244.1.0/24', '198.18.0.11'), ipv6Subnet: Cidr.parse('fd00:10:244:1::/64') };
    const peers = [lease('10.244.3.0/24', '198.18.0.13', 'fd00:198::13'), lease('10.244.2.0/24', '198.18.0.12')];
    const [v4, v6] = trafficSpecs(config, own, features, { port: 8472, peers });
    assert.deepEqual(v4?.ingress?.peers?.map(String), ['198.18.0.12', '198.18.0.13']);
    assert.deepEqual(v6?.ingress?.peers?.map(String), ['fd00:198::13']);
    assert.equal(trafficSpecs(config, own, features, { port: 8472 })[0]?.ingress?.peers, undefined);
    assert.equal(trafficSpecs(config, own, features)[0]?.ingress, undefined);
  });
});

async function until(what: string, condition: () => boolean, timeoutMs = 3000): Promise<void> {
  for (let waited = 0; !condition(); waited += 5) {
    if (waited > timeoutMs) assert.fail(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

describe('FirewallReconciler and the ingress filter', () => {
  it('leaves a previous run\u2019s rules alone until the peers are known; writes an empty set on a fresh host', async () => {
    const restarted = new ScriptFirewall();
    restarted.scripts.set(4, 'rules of the previous run');
    let spec: TrafficSpec = { ...filtered, forwardRules: true, ingress: { protocol: 'udp', port: 8472 } };
    const reconciler = new FirewallReconciler({ firewall: restarted, specs: () => [spec], logger: silentLogger(), resyncMs: 60_000 });
    assert.equal(await reconciler.pass(), 0);
    assert.equal(restarted.scripts.get(4), 'rules of the previous run');
    spec = filtered;
    assert.equal(await reconciler.pass(), 1, 'written once the peers are known');
    const fresh = new ScriptFirewall();
    await new FirewallReconciler({ firewall: fresh, specs: () => [{ ...filtered, ingress: { protocol: 'udp', port: 8472 } }], logger: silentLogger(), resyncMs: 60_000 }).pass();
    assert.match(fresh.scripts.get(4) ?? '', /set overlay_peers \{\n\t\ttype ipv4_addr\n\t\}/);
  });
  it('markDirty runs a pass at once instead of at the next resync', async () => {
    const firewall = new ScriptFirewall();
    let peers = [ip('198.18.0.12')];
    const reconciler = new FirewallReconciler({ firewall, specs: () => [{ ...filtered, ingress: { protocol: 'udp', port: 8472, peers } }], logger: silentLogger(), resyncMs: 60_000 });
    const controller = new AbortController();
    reconciler.markDirty();
    const running = reconciler.run(controller.signal);
    await until('the first write', () => firewall.writes === 1);
    peers = [ip('198.18.0.12'), ip('198.18.0.14')];
    reconciler.markDirty();
    await until('the new peer', () => (firewall.scripts.get(4) ?? '').includes('198.18.0.14'));
    controller.abort();
    await running;
    assert.equal(firewall.writes, 2);
  });
});

describe('daemons with the ingress filter on MemoryRegistry + MemoryKernel', () => {
  it('a joining peer is let in as soon as its lease arrives, a leaving one is dropped (no resync wait)', async () => {
    const registry = new MemoryRegistry();
    registry.setNetworkConfig('{"Network":"10.244.0.0/16","EnableNFTables":true,"Backend":{"Type":"vxlan"}}');
    const hosts = ['198.18.0.11', '198.18.0.12'].map((address) => {
      const firewall = new ScriptFirewall();
      const daemon = new Daemon({
        subnetManager: new EtcdSubnetManager({ registry, logger: silentLogger() }),
        kernel: new MemoryKernel().addLink({ index: 2, name: 'eth0', mtu: 1500, up: true }, [{ address: Cidr.parse(`${address}/24`), scope: 0, flags: IFA_F_PERMANENT }]),
        logger: silentLogger(),
        interfaceOptions: { iface: ['eth0'], ifaceRegex: [], ifaceCanReach: '', publicIP: '', publicIPv6: '' },
        ipMasq: false,
        firewalls: { iptables: new ScriptFirewall() as unknown as Firewall, nftables: firewall },
        overlayIngressFilter: true,
        firewallResyncMs: 60_000,
        renewMarginMs: 60 * 60_000,
        writeSubnetFile: () => undefined,
      });
      const controller = new AbortController();
      return { firewall, daemon, controller, running: undefined as Promise<void> | undefined };
    });
    const [a, b] = hosts as [typeof hosts[0], typeof hosts[0]];
    const peersOf = (host: typeof a) => host.firewall.specs.get(4)?.ingress?.peers?.map(String);
    try {
      a.running = a.daemon.run(a.controller.signal);
      await until('a ready with an empty peer set', () => a.daemon.ready && peersOf(a)?.length === 0);
      b.running = b.daemon.run(b.controller.signal);
      await until('b let in at a', () => peersOf(a)?.join() === '198.18.0.12');
      await until('a let in at b', () => peersOf(b)?.join() === '198.18.0.11');
      b.controller.abort();
      await b.running;
      await registry.deleteLease(b.daemon.lease as Lease);
      await until('b dropped at a', () => peersOf(a)?.length === 0);
    } finally {
      for (const host of hosts) host.controller.abort();
      await Promise.all(hosts.map((host) => host.running));
    }
  });
});
