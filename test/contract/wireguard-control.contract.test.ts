/**
 * One suite, two WireguardControls: MemoryWireguardControl and our UAPI adapter driving a real wireguard-go
 * (Debian's, started by our supervisor) inside the contract namespace. wireguard-go's socket directory is fixed,
 * so the suite mounts a tmpfs over /run/wireguard — only after checking that it runs in a mount namespace of its
 * own (`ip netns exec` makes one), never on the host's. Keeps the fake honest about what wireguard-go does.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { NetlinkWireguardControl, kernelHasWireguard } from '../../src/adapters/wireguard/netlink-wireguard-control.js';
import { UapiWireguardControl } from '../../src/adapters/wireguard/uapi-wireguard-control.js';
import { WireguardGoSupervisor } from '../../src/adapters/wireguard/wireguard-go-supervisor.js';
import { MemoryWireguardControl } from '../../src/backend/wireguard/memory-wireguard-control.js';
import type { WireguardControl } from '../../src/backend/wireguard/wireguard-control.js';
import { diffWireguardDevice } from '../../src/backend/wireguard/wireguard-device-diff.js';
import { WireguardKey } from '../../src/backend/wireguard/wireguard-key.js';
import { run } from '../../src/lab/shell.js';
import { Cidr, IpAddress } from '../../src/net/ip.js';
import { silentLogger } from '../../src/support/logger.js';
import { assertInContractNetns } from '../support/contract-netns.js';
import { RUN_DIRECTORY, releaseWireguardRunDirectory, useOwnWireguardRunDirectory } from '../support/wireguard-run-directory.js';

const key = (seed: number) => WireguardKey.generatePrivate(() => Buffer.alloc(32, seed));
const ours = key(1);
const peerA = key(2).publicKey();
const peerB = key(3).publicKey();
const psk = key(4);
const cidrs = (...texts: string[]) => texts.map((text) => Cidr.parse(text));
const endpoint = (ip: string, port: number) => ({ ip: IpAddress.parse(ip), port });

interface Fixture {
  readonly control: WireguardControl;
  /** Makes a device exist (a link, or a wireguard-go process). */
  createDevice(name: string): Promise<void>;
}

/** Peers as sorted text, for comparing the fake with the real thing. */
async function peersText(control: WireguardControl, name: string): Promise<string[]> {
  const state = await control.getDevice(name);
  return (state?.peers ?? []).map((peer) => [
    peer.publicKey.toString().slice(0, 8),
    peer.allowedIps.map(String).sort().join(','),
    peer.endpoint ? `${peer.endpoint.ip}:${peer.endpoint.port}` : '-',
    `ka=${peer.persistentKeepaliveSeconds}`,
    `psk=${peer.presharedKey ? (peer.presharedKey.equals(psk) ? 'ours' : 'other') : 'none'}`,
  ].join(' ')).sort();
}

function wireguardControlContract(name: string, setUp: () => Promise<Fixture>, tearDown: () => Promise<void>): void {
  describe(`WireguardControl contract: ${name}`, () => {
    let fixture: Fixture;
    before(async () => {
      fixture = await setUp();
    });
    after(tearDown);

    it('a device that does not exist: undefined, and ENODEV on configure', async () => {
      assert.equal(await fixture.control.getDevice('wgctnone'), undefined);
      await assert.rejects(fixture.control.configureDevice('wgctnone', { listenPort: 1 }), { code: 'ENODEV' });
    });
    it('a fresh device has no key and no peers; key and port read back with the derived public key', async () => {
      await fixture.createDevice('wgct0');
      const fresh = await fixture.control.getDevice('wgct0');
      assert.equal(fresh?.privateKey, undefined);
      assert.deepEqual(fresh?.peers, []);
      await fixture.control.configureDevice('wgct0', { privateKey: ours, listenPort: 51820 });
      const state = await fixture.control.getDevice('wgct0');
      assert.ok(state?.privateKey?.equals(ours));
      assert.equal(state?.publicKey?.toString(), ours.publicKey().toString());
      assert.equal(state?.listenPort, 51820);
    });
    it('peers with allowed IPs (stored masked), endpoints of both families, keepalive and PSK', async () => {
      await fixture.control.configureDevice('wgct0', {
        peers: [
          { publicKey: peerA, endpoint: endpoint('198.18.9.2', 51820), persistentKeepaliveSeconds: 25, presharedKey: psk, replaceAllowedIps: true, allowedIps: cidrs('10.244.2.7/24', 'fd00:10:244:2::/64') },
          { publicKey: peerB, endpoint: endpoint('fd00:198::3', 51821), allowedIps: cidrs('10.244.3.0/24') },
        ],
      });
      assert.deepEqual(await peersText(fixture.control, 'wgct0'), [
        `${peerA.toString().slice(0, 8)} 10.244.2.0/24,fd00:10:244:2::/64 198.18.9.2:51820 ka=25 psk=ours`,
        `${peerB.toString().slice(0, 8)} 10.244.3.0/24 fd00:198::3:51821 ka=0 psk=none`,
      ].sort());
    });
    it('replace_allowed_ips sets the complete list; an allowed IP given to another peer moves', async () => {
      await fixture.control.configureDevice('wgct0', { peers: [{ publicKey: peerA, replaceAllowedIps: true, allowedIps: cidrs('10.244.4.0/24') }] });
      await fixture.control.configureDevice('wgct0', { peers: [{ publicKey: peerB, allowedIps: cidrs('10.244.4.0/24') }] });
      const byKey = new Map((await fixture.control.getDevice('wgct0'))?.peers.map((peer) => [peer.publicKey.toString(), peer.allowedIps.map(String).sort()]));
      assert.deepEqual(byKey.get(peerA.toString()), []);
      assert.deepEqual(byKey.get(peerB.toString()), ['10.244.3.0/24', '10.244.4.0/24']);
    });
    it('clears a PSK with null; removes peers; unknown removals and update_only are no-ops; our own key is ignored', async () => {
      await fixture.control.configureDevice('wgct0', { peers: [{ publicKey: peerA, presharedKey: null }] });
      assert.equal((await fixture.control.getDevice('wgct0'))?.peers.find((peer) => peer.publicKey.equals(peerA))?.presharedKey, undefined);
      const stranger = key(9).publicKey();
      await fixture.control.configureDevice('wgct0', {
        peers: [
          { publicKey: peerA, remove: true },
          { publicKey: stranger, remove: true },
          { publicKey: key(10).publicKey(), updateOnly: true, allowedIps: cidrs('10.244.9.0/24') },
          { publicKey: ours.publicKey(), allowedIps: cidrs('10.244.8.0/24') },
        ],
      });
      assert.deepEqual((await fixture.control.getDevice('wgct0'))?.peers.map((peer) => peer.publicKey.toString()), [peerB.toString()]);
    });
    it('replacePeers leaves exactly the peers of the change', async () => {
      await fixture.control.configureDevice('wgct0', { replacePeers: true, peers: [{ publicKey: peerA, allowedIps: cidrs('10.244.2.0/24') }] });
      assert.deepEqual((await fixture.control.getDevice('wgct0'))?.peers.map((peer) => peer.publicKey.toString()), [peerA.toString()]);
    });
    it('refuses a bad listen port with EINVAL', async () => {
      await assert.rejects(fixture.control.configureDevice('wgct0', { listenPort: 70000 }), { code: 'EINVAL' });
    });
    it('the device diff converges in one change and then finds nothing', async () => {
      const device = { name: 'wgct0', listenPort: 51830, privateKey: ours };
      const desired = [
        { linkName: 'wgct0', publicKey: peerB, endpoint: endpoint('198.18.9.3', 51820), persistentKeepaliveSeconds: 5, presharedKey: psk, allowedIps: cidrs('10.244.3.0/24', 'fd00:10:244:3::/64') },
      ];
      const diff = diffWireguardDevice(device, desired, (await fixture.control.getDevice('wgct0'))!, { nowMs: Date.now() });
      assert.ok(diff);
      await fixture.control.configureDevice('wgct0', diff.change);
      assert.equal(diffWireguardDevice(device, desired, (await fixture.control.getDevice('wgct0'))!, { nowMs: Date.now() }), undefined);
    });
  });
}

wireguardControlContract('MemoryWireguardControl', async () => {
  const control = new MemoryWireguardControl();
  return { control, createDevice: async (name) => control.createDevice(name) };
}, async () => {});

const supervisors: Array<{ abort: AbortController; done: Promise<void> }> = [];
wireguardControlContract('UAPI adapter on wireguard-go', async () => {
  useOwnWireguardRunDirectory();
  const control = new UapiWireguardControl({ runDirectory: RUN_DIRECTORY });
  return {
    control,
    createDevice: (name) => new Promise<void>((resolve) => {
      const abort = new AbortController();
      const supervisor = new WireguardGoSupervisor({ device: name, logger: silentLogger(), runDirectory: RUN_DIRECTORY, onReady: resolve });
      supervisors.push({ abort, done: supervisor.run(abort.signal) });
    }),
  };
}, async () => {
  for (const { abort, done } of supervisors) {
    abort.abort();
    await done;
  }
  releaseWireguardRunDirectory();
});

const kernelDevices: string[] = [];
if (kernelHasWireguard()) {
  wireguardControlContract('netlink adapter on the kernel\'s WireGuard', async () => {
    assertInContractNetns();
    const control = NetlinkWireguardControl.open();
    return {
      control,
      createDevice: async (name) => {
        run('ip', ['link', 'add', name, 'type', 'wireguard']);
        kernelDevices.push(name);
      },
    };
  }, async () => {
    for (const name of kernelDevices) run('ip', ['link', 'del', name], { allowFailure: true });
  });
} else {
  describe('WireguardControl contract: netlink adapter on the kernel\'s WireGuard', () => {
    it('cannot run here: this kernel has no WireGuard (no generic-netlink family "wireguard"); the codec is covered by byte vectors in test/unit/wireguard-genetlink-codec.test.ts', (t) => {
      t.skip('this kernel has no WireGuard');
    });
  });
}
