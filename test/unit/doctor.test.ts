import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Cidr } from '../../src/net/ip.js';
import { MacAddress } from '../../src/net/mac.js';
import { doctorExitCode, runDoctorChecks } from '../../src/ops/doctor/doctor-checks.js';
import type { DoctorFacts } from '../../src/ops/doctor/doctor-facts.js';
import { parseFilterTable } from '../../src/ops/firewall-view.js';
import { buildStatusDocument, type StatusFacts } from '../../src/ops/status-document.js';
import { NOW_MS, OWN, OWN_MAC, PEER, vxlanHost, vxlanLease } from '../support/trace-host.js';

const PEER_OTHER_MAC = MacAddress.parse('0e:00:00:00:00:0e');
const SUBNET_ENV = 'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n';
const statusFacts: StatusFacts = {
  version: '0.1.0', pid: 42, startedAtMs: NOW_MS - 60_000, ready: true, subnetManager: 'etcd', lease: OWN, backend: { type: 'vxlan', mtu: 1450 },
  devices: [], admittedPeers: 1, rejectedPeers: [], reconcile: { passes: 3 }, driftRepairs: {},
  subnetEnv: { path: '/run/flannel/subnet.env', text: SUBNET_ENV, wanted: SUBNET_ENV },
};

async function healthyFacts(): Promise<DoctorFacts> {
  const kernel = vxlanHost();
  return {
    nowMs: NOW_MS,
    status: buildStatusDocument(statusFacts, NOW_MS),
    leases: { own: OWN, admitted: [PEER], rejected: [] },
    networks: [Cidr.parse('10.244.0.0/16')],
    sysctls: { 'net/ipv4/ip_forward': '1', 'net/ipv4/conf/all/rp_filter': '2', 'net/bridge/bridge-nf-call-iptables': '1', 'net/ipv4/conf/flannel.1/rp_filter': '0' },
    links: await kernel.listLinks(),
    firewall: parseFilterTable('*filter\n:FORWARD ACCEPT [0:0]\nCOMMIT\n'),
    tunDevice: true,
    linkKind: { kind: 'vxlan', ok: true },
    cni: { confDir: '/etc/cni/net.d', configs: [{ name: '10-flannel.conflist', text: JSON.stringify({ name: 'cbr0', plugins: [{ type: 'flannel' }] }) }], pluginPath: '/opt/cni/bin/flannel', pluginPresent: true },
    probes: { outcomes: [{ peer: '10.244.2.0/24', result: 'ok', rttMs: 0.3 }], peers: 1, skipped: [] },
  };
}

const resultOf = (facts: DoctorFacts, name: string) => runDoctorChecks(facts).find((check) => check.name === name);

describe('doctor', () => {
  it('passes a healthy host and exits 0', async () => {
    const checks = runDoctorChecks(await healthyFacts());
    assert.deepEqual(checks.filter((check) => check.result !== 'pass'), []);
    assert.equal(doctorExitCode(checks), 0);
    assert.ok(checks.length >= 14, `${checks.length} checks`);
  });

  const cases: Array<[string, (facts: DoctorFacts) => DoctorFacts, string, 'warn' | 'fail', RegExp]> = [
    ['ip_forward=0', (f) => ({ ...f, sysctls: { ...f.sysctls, 'net/ipv4/ip_forward': '0' } }), 'ip_forward', 'fail', /does not forward/],
    ['strict rp_filter on flannel.1 (all=0: the device value counts)', (f) => ({ ...f, sysctls: { ...f.sysctls, 'net/ipv4/conf/all/rp_filter': '0', 'net/ipv4/conf/flannel.1/rp_filter': '1' } }), 'rp_filter', 'warn', /strict .* flannel\.1/],
    ['strict rp_filter via all=1',  (f) => ({ ...f, sysctls: { ...f.sysctls, 'net/ipv4/conf/all/rp_filter': '1' } }), 'rp_filter', 'warn', /flannel\.1/],
    ['br_netfilter not loaded', (f) => ({ ...f, sysctls: { ...f.sysctls, 'net/bridge/bridge-nf-call-iptables': undefined } }), 'br_netfilter', 'warn', /not loaded/],
    ['FORWARD policy DROP', (f) => ({ ...f, firewall: parseFilterTable('*filter\n:FORWARD DROP [0:0]\nCOMMIT\n') }), 'FORWARD policy', 'fail', /nothing accepts 10\.244\.0\.0\/16/],
    ['no /dev/net/tun for udp', (f) => ({ ...f, tunDevice: false, status: buildStatusDocument({ ...statusFacts, backend: { type: 'udp', mtu: 1472 } }, NOW_MS) }), '/dev/net/tun', 'fail', /cannot open/],
    ['link kind refused', (f) => ({ ...f, linkKind: { kind: 'vxlan', ok: false, error: 'Operation not supported' } }), 'vxlan links', 'fail', /refuses vxlan devices: Operation not supported/],
    ['subnet.env differs from the lease', (f) => ({ ...f, status: buildStatusDocument({ ...statusFacts, subnetEnv: { ...statusFacts.subnetEnv, text: SUBNET_ENV.replace('10.244.1.1/24', '10.244.9.1/24') } }, NOW_MS) }),
      'subnet.env', 'fail', /FLANNEL_SUBNET: file has 10\.244\.9\.0\/24, lease and config want 10\.244\.1\.0\/24/],
    ['lease expired', (f) => ({ ...f, status: buildStatusDocument({ ...statusFacts, lease: { ...OWN, expiresAtMs: NOW_MS - 1 } }, NOW_MS) }), 'lease', 'fail', /expired/],
    ['lease renewal overdue', (f) => ({ ...f, status: buildStatusDocument({ ...statusFacts, lease: { ...OWN, expiresAtMs: NOW_MS + 600_000 } }, NOW_MS) }), 'lease', 'warn', /expires in 600 s/],
    ['duplicate public IP', (f) => ({ ...f, leases: { own: OWN, admitted: [PEER, vxlanLease('10.244.3.0/24', '198.18.0.12', PEER_OTHER_MAC)], rejected: [] } }),
      'public IPs', 'fail', /198\.18\.0\.12 \(10\.244\.2\.0\/24, 10\.244\.3\.0\/24\)/],
    ['duplicate VTEP MAC', (f) => ({ ...f, leases: { own: OWN, admitted: [PEER], rejected: [{ lease: vxlanLease('10.244.3.0/24', '198.18.0.13', OWN_MAC), reason: 'x' }] } }),
      'VTEP MACs', 'fail', /0e:00:00:00:00:0b \(10\.244\.1\.0\/24, 10\.244\.3\.0\/24\)/],
    ['overlay MTU does not fit the uplink', (f) => ({ ...f, links: f.links.map((link) => (link.name === 'flannel.1' ? { ...link, mtu: 1480 } : link)) }), 'MTU flannel.1', 'fail', /1480 \+ 50 > eth0 1500/],
    ['no CNI config for flannel', (f) => ({ ...f, cni: { ...f.cni, configs: [] } }), 'CNI config', 'warn', /no network config/],
    ['another CNI config first', (f) => ({ ...f, cni: { ...f.cni, configs: [{ name: '00-other.conflist', text: '{"plugins":[{"type":"bridge"}]}' }, ...f.cni.configs] } }), 'CNI config', 'warn', /00-other\.conflist comes before/],
    ['CNI plugin missing', (f) => ({ ...f, cni: { ...f.cni, pluginPresent: false } }), 'CNI plugin', 'fail', /missing or not executable: pods cannot be created/],
    ['a peer does not answer over the overlay', (f) => ({ ...f, probes: { outcomes: [{ peer: '10.244.2.0/24', result: 'timeout' }], peers: 1, skipped: [] } }), 'overlay probe', 'fail', /unreachable over the overlay: 10\.244\.2\.0\/24/],
    ['flanneld not reachable', (f) => ({ ...f, status: undefined, statusError: 'no flanneld answers on /run/flannel/flanneld.sock' }), 'flanneld', 'fail', /no flanneld answers/],
  ];
  for (const [what, change, name, result, detail] of cases) {
    it(what, async () => {
      const facts = change(await healthyFacts());
      const check = resultOf(facts, name);
      assert.equal(check?.result, result, JSON.stringify(check));
      assert.match(check?.detail ?? '', detail);
      assert.equal(doctorExitCode(runDoctorChecks(facts)), result === 'fail' ? 1 : 0);
    });
  }
});
