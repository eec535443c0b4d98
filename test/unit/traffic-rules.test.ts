import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Cidr } from '../../src/net/ip.js';
import { type TrafficSpec, iptablesTables, ownIptablesLines, renderIptablesRestore, renderNftables } from '../../src/traffic/traffic-rules.js';

const v4: TrafficSpec = { family: 4, network: Cidr.parse('10.244.0.0/16'), subnet: Cidr.parse('10.244.1.0/24'), ipMasq: true, forwardRules: true, randomFully: true };
const v6: TrafficSpec = { family: 6, network: Cidr.parse('fd00:10:244::/56'), subnet: Cidr.parse('fd00:10:244:1::/64'), ipMasq: true, forwardRules: true, randomFully: false };

describe('iptables rule sets (golden, upstream order and comments)', () => {
  it('IPv4 with masquerade and forward rules, from an empty table', () => {
    assert.equal(renderIptablesRestore(iptablesTables(v4), ''), [
      '*nat',
      ':FLANNEL-POSTRTG - [0:0]',
      '-A POSTROUTING -m comment --comment "flanneld masq" -j FLANNEL-POSTRTG',
      '-A FLANNEL-POSTRTG -m mark --mark 0x4000/0x4000 -m comment --comment "flanneld masq" -j RETURN',
      '-A FLANNEL-POSTRTG -s 10.244.1.0/24 -d 10.244.0.0/16 -m comment --comment "flanneld masq" -j RETURN',
      '-A FLANNEL-POSTRTG -s 10.244.0.0/16 -d 10.244.1.0/24 -m comment --comment "flanneld masq" -j RETURN',
      '-A FLANNEL-POSTRTG ! -s 10.244.0.0/16 -d 10.244.1.0/24 -m comment --comment "flanneld masq" -j RETURN',
      '-A FLANNEL-POSTRTG -s 10.244.0.0/16 ! -d 224.0.0.0/4 -m comment --comment "flanneld masq" -j MASQUERADE --random-fully',
      '-A FLANNEL-POSTRTG ! -s 10.244.0.0/16 -d 10.244.0.0/16 -m comment --comment "flanneld masq" -j MASQUERADE --random-fully',
      'COMMIT',
      '*filter',
      ':FLANNEL-FWD - [0:0]',
      '-A FORWARD -m comment --comment "flanneld forward" -j FLANNEL-FWD',
      '-A FLANNEL-FWD -s 10.244.0.0/16 -m comment --comment "flanneld forward" -j ACCEPT',
      '-A FLANNEL-FWD -d 10.244.0.0/16 -m comment --comment "flanneld forward" -j ACCEPT',
      'COMMIT',
      '',
    ].join('\n'));
  });
  it('IPv6 uses ff00::/8 and plain masquerade when fully random is unsupported', () => {
    const payload = renderIptablesRestore(iptablesTables(v6), '');
    assert.match(payload, /-A FLANNEL-POSTRTG -s fd00:10:244::\/56 ! -d ff00::\/8 -m comment --comment "flanneld masq" -j MASQUERADE\n/);
  });
  it('keeps an existing jump, removes duplicate jumps, and tears down a feature turned off', () => {
    const saved = [
      '*nat', ':POSTROUTING ACCEPT [0:0]', ':FLANNEL-POSTRTG - [0:0]', '-A POSTROUTING -j KUBE-POSTROUTING',
      '-A POSTROUTING -m comment --comment "flanneld masq" -j FLANNEL-POSTRTG', '-A POSTROUTING -m comment --comment "flanneld masq" -j FLANNEL-POSTRTG',
      '-A FLANNEL-POSTRTG -j RETURN', 'COMMIT',
      '*filter', ':FLANNEL-FWD - [0:0]', '-A FORWARD -m comment --comment "flanneld forward" -j FLANNEL-FWD', 'COMMIT',
    ].join('\n');
    const payload = renderIptablesRestore(iptablesTables({ ...v4, forwardRules: false }), saved);
    assert.match(payload, /^\*nat\n:FLANNEL-POSTRTG - \[0:0\]\n-D POSTROUTING -m comment --comment "flanneld masq" -j FLANNEL-POSTRTG\n-A FLANNEL-POSTRTG -m mark/);
    assert.doesNotMatch(payload, /-A POSTROUTING/);
    assert.match(payload, /\*filter\n:FLANNEL-FWD - \[0:0\]\n-D FORWARD -m comment --comment "flanneld forward" -j FLANNEL-FWD\n-X FLANNEL-FWD\nCOMMIT\n$/);
    assert.equal(renderIptablesRestore([], ''), '', 'nothing to remove, nothing written');
  });
  it('picks exactly our lines out of iptables-save', () => {
    const saved = '*nat\n:POSTROUTING ACCEPT [3:180]\n:FLANNEL-POSTRTG - [0:0]\n-A POSTROUTING -j OTHER\n-A POSTROUTING -m comment --comment "flanneld masq" -j FLANNEL-POSTRTG\n-A FLANNEL-POSTRTG -j RETURN\nCOMMIT\n';
    assert.deepEqual(ownIptablesLines(saved), ['*nat :FLANNEL-POSTRTG -', '*nat -A POSTROUTING -m comment --comment "flanneld masq" -j FLANNEL-POSTRTG', '*nat -A FLANNEL-POSTRTG -j RETURN']);
  });
});

describe('nftables rule sets (golden)', () => {
  it('IPv4 table replaced in one script, upstream rules (saddr != subnet in rule 4)', () => {
    assert.equal(renderNftables(v4), [
      'table ip flannel-ipv4',
      'delete table ip flannel-ipv4',
      'table ip flannel-ipv4 {',
      '\tcomment "rules for flannel-ipv4"',
      '\tchain forward {',
      '\t\ttype filter hook forward priority filter; policy accept;',
      '\t\tcomment "chain to accept flannel traffic"',
      '\t\tip saddr 10.244.0.0/16 accept',
      '\t\tip daddr 10.244.0.0/16 accept',
      '\t}',
      '\tchain postrtg {',
      '\t\ttype nat hook postrouting priority srcnat; policy accept;',
      '\t\tcomment "chain to manage traffic masquerading by flannel"',
      '\t\tmeta mark 0x00004000 return',
      '\t\tip saddr 10.244.1.0/24 ip daddr 10.244.0.0/16 return',
      '\t\tip saddr 10.244.0.0/16 ip daddr 10.244.1.0/24 return',
      '\t\tip saddr != 10.244.1.0/24 ip daddr 10.244.0.0/16 return',
      '\t\tip saddr 10.244.0.0/16 ip daddr != 224.0.0.0/4 masquerade fully-random',
      '\t\tip saddr != 10.244.0.0/16 ip daddr 10.244.0.0/16 masquerade fully-random',
      '\t}',
      '}',
      '',
    ].join('\n'));
  });
  it('IPv6 table, forward only', () => {
    const script = renderNftables({ ...v6, ipMasq: false });
    assert.match(script, /^table ip6 flannel-ipv6\ndelete table ip6 flannel-ipv6\ntable ip6 flannel-ipv6 \{/);
    assert.match(script, /ip6 saddr fd00:10:244::\/56 accept/);
    assert.doesNotMatch(script, /postrtg/);
  });
});
