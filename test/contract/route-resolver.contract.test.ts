/**
 * One suite, two RouteResolvers: memoryRouteResolver over this namespace's kernel lists, and the netlink adapter
 * asking the kernel itself (RTM_GETROUTE). Keeps the fake honest for the lookups trace relies on: a local
 * address, a connected prefix, a gateway route, a blackhole (EINVAL), no route (ENETUNREACH). The netlink one
 * also shows what only the kernel can: a forwarded lookup (iif) refused by the reverse-path filter (EINVAL).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { NetlinkKernel } from '../../src/adapters/netlink/netlink-kernel.js';
import { NetlinkRouteResolver } from '../../src/adapters/route-lookup/netlink-route-resolver.js';
import { run } from '../../src/lab/shell.js';
import { IpAddress } from '../../src/net/ip.js';
import { memoryRouteResolver } from '../../src/ops/trace/memory-route-resolver.js';
import type { RouteResolver } from '../../src/ops/trace/route-resolver.js';
import { assertInContractNetns } from '../support/contract-netns.js';

describe('RouteResolver contract', () => {
  let kernel: NetlinkKernel;
  let netlink: NetlinkRouteResolver;
  let linkIndex = 0;
  before(async () => {
    assertInContractNetns();
    run('ip', ['link', 'add', 'rr0', 'type', 'veth', 'peer', 'name', 'rr1']);
    run('ip', ['addr', 'add', '198.18.7.1/24', 'dev', 'rr0']);
    run('ip', ['link', 'set', 'rr0', 'up']);
    run('ip', ['link', 'set', 'rr1', 'up']);
    run('ip', ['route', 'add', '10.244.5.0/24', 'via', '198.18.7.2', 'dev', 'rr0']);
    run('ip', ['route', 'add', 'blackhole', '10.244.6.0/24']);
    kernel = NetlinkKernel.open();
    netlink = NetlinkRouteResolver.open();
    linkIndex = (await kernel.listLinks()).find((link) => link.name === 'rr0')?.index ?? -1;
  });
  after(() => {
    netlink?.close();
    kernel?.close();
    run('ip', ['route', 'del', 'blackhole', '10.244.6.0/24'], { allowFailure: true });
    run('ip', ['link', 'del', 'rr0'], { allowFailure: true });
  });

  const resolvers: Array<[string, () => RouteResolver]> = [['memory', () => memoryRouteResolver(kernel)], ['netlink', () => netlink]];
  for (const [name, resolver] of resolvers) {
    it(`${name}: local, connected, via a gateway, blackhole, unreachable`, async () => {
      const ask = (destination: string) => resolver().resolve({ destination: IpAddress.parse(destination) });
      const local = await ask('198.18.7.1');
      assert.deepEqual(local.kind === 'route' && [local.type], ['local']);
      const connected = await ask('198.18.7.9');
      assert.deepEqual(connected.kind === 'route' && [connected.type, connected.linkIndex, connected.gateway?.toString()], ['unicast', linkIndex, undefined]);
      const routed = await ask('10.244.5.7');
      assert.deepEqual(routed.kind === 'route' && [routed.type, routed.linkIndex, routed.gateway?.toString()], ['unicast', linkIndex, '198.18.7.2']);
      const blackhole = await ask('10.244.6.1');
      assert.deepEqual(blackhole.kind === 'refused' && blackhole.code, 'EINVAL');
      const unreachable = await ask('203.0.113.1');
      assert.deepEqual(unreachable.kind === 'refused' && unreachable.code, 'ENETUNREACH');
    });
  }

  it('netlink: a forwarded lookup whose source fails the strict reverse-path filter is refused (EINVAL)', async () => {
    run('sysctl', ['-qw', 'net.ipv4.ip_forward=1', 'net.ipv4.conf.all.rp_filter=1', 'net.ipv4.conf.rr1.rp_filter=1']);
    try {
      const rr1 = (await kernel.listLinks()).find((link) => link.name === 'rr1')?.index as number;
      // 198.18.7.50 is reachable via rr0, not rr1: a packet from it arriving on rr1 fails the strict check.
      const answer = await netlink.resolve({ destination: IpAddress.parse('10.244.5.7'), source: IpAddress.parse('198.18.7.50'), inputLinkIndex: rr1 });
      assert.deepEqual(answer.kind === 'refused' && answer.code, 'EINVAL');
      const fine = await netlink.resolve({ destination: IpAddress.parse('10.244.5.7'), source: IpAddress.parse('198.18.7.50'), inputLinkIndex: linkIndex });
      assert.deepEqual(fine.kind === 'route' && [fine.type, fine.gateway?.toString()], ['unicast', '198.18.7.2']);
    } finally {
      run('sysctl', ['-qw', 'net.ipv4.conf.all.rp_filter=0', 'net.ipv4.conf.rr1.rp_filter=0']);
    }
  });
});
