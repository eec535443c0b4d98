/**
 * The real udp data path (worker thread, koffi TUN, recvmmsg/sendmmsg socket) in the namespace the contract
 * runner made. The peer is played by plain UDP sockets on loopback addresses: what it receives must be the
 * inner IPv4 packet with one TTL spent; what it sends must reach a socket behind the TUN; a stranger's
 * datagram must not. Also: peer updates take effect, a deleted device comes back, stop is prompt.
 */
import assert from 'node:assert/strict';
import { type Socket, createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type TunDeviceEvent, UdpDatapath } from '../../src/adapters/udp/udp-datapath.js';
import { run } from '../../src/lab/shell.js';
import { Cidr, IpAddress } from '../../src/net/ip.js';
import { sleep } from '../../src/support/timing.js';
import { assertInContractNetns } from '../support/contract-netns.js';
import { headerIsValid, udpPacket } from '../support/ipv4-packets.js';

const OURS = '127.0.0.1';
const PEER = '127.0.0.2';
const STRANGER = '127.0.0.3';
const PORT = 18285;
const peer = { subnet: Cidr.parse('10.98.2.0/24'), publicIp: IpAddress.parse(PEER) };

async function eventually<T>(what: string, probe: () => T | undefined, timeoutMs = 2000): Promise<T> {
  for (const deadline = Date.now() + timeoutMs; ;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

function udpSocket(address: string, port: number): Promise<{ socket: Socket; received: Array<{ data: Buffer; from: string }> }> {
  const socket = createSocket('udp4');
  const received: Array<{ data: Buffer; from: string }> = [];
  socket.on('message', (data, info) => received.push({ data, from: info.address }));
  return new Promise((resolve) => socket.bind(port, address, () => resolve({ socket, received })));
}

function configure(name: string): void {
  run('sysctl', ['-qw', `net.ipv6.conf.${name}.disable_ipv6=1`]);
  run('ip', ['addr', 'add', '10.98.1.0/32', 'dev', name]);
  run('ip', ['link', 'set', name, 'mtu', '1472', 'up']);
  run('ip', ['route', 'add', '10.98.0.0/16', 'dev', name]);
}

for (const offload of [true, false]) describe(`udp data path on a real TUN and socket${offload ? ' (offloads)' : ' (packet by packet)'}`, () => {
  let datapath: UdpDatapath;
  const devices: TunDeviceEvent[] = [];
  const errors: Error[] = [];
  let peerSocket: Awaited<ReturnType<typeof udpSocket>>;
  let podSocket: Awaited<ReturnType<typeof udpSocket>>;

  before(async () => {
    assertInContractNetns();
    peerSocket = await udpSocket(PEER, PORT);
    datapath = await UdpDatapath.start({
      tunName: 'ftu%d', tunAddress: IpAddress.parse('10.98.1.0'), bindAddress: IpAddress.parse(OURS), port: PORT, mtu: 1472,
      peers: [peer], offload, onDevice: (event) => devices.push(event), onError: (error) => errors.push(error),
    });
    configure(datapath.device.name);
    podSocket = await udpSocket('10.98.1.0', 7001);
  });
  after(async () => {
    await datapath?.stop();
    peerSocket?.socket.close();
    podSocket?.socket.close();
  });

  it('reports the device it opened', () => {
    assert.deepEqual(devices, [{ name: 'ftu0', index: datapath.device.index, reopened: false }]);
    assert.ok(datapath.device.index > 0);
  });

  it('sends what the kernel routes into the TUN to the peer, one inner IPv4 packet per datagram, TTL − 1', async () => {
    await new Promise<void>((resolve, reject) => podSocket.socket.send('to the peer', 7000, '10.98.2.5', (error) => (error ? reject(error) : resolve())));
    const datagram = await eventually('the peer to receive', () => peerSocket.received.shift());
    assert.equal(datagram.from, OURS);
    const inner = datagram.data;
    assert.equal(inner[0], 0x45);
    assert.equal(inner[8], 63, 'the kernel sent TTL 64');
    assert.equal(inner[9], 17);
    assert.ok(headerIsValid(inner));
    assert.equal(inner.subarray(12, 20).toString('hex'), '0a6201000a620205');
    assert.equal(inner.subarray(28).toString(), 'to the peer');
  });

  it('writes what the peer sends into the TUN, where the kernel delivers it', async () => {
    peerSocket.socket.send(udpPacket('10.98.2.5', '10.98.1.0', 'from the peer', { destinationPort: 7001 }), PORT, OURS);
    const message = await eventually('the pod socket to receive', () => podSocket.received.shift());
    assert.equal(message.data.toString(), 'from the peer');
    assert.equal(message.from, '10.98.2.5');
  });

  it('drops a stranger\'s datagram and counts it', async () => {
    const stranger = await udpSocket(STRANGER, PORT);
    try {
      const before = datapath.counters().counters.dropUnknownSource;
      stranger.socket.send(udpPacket('10.98.2.5', '10.98.1.0', 'spoofed', { destinationPort: 7001 }), PORT, OURS);
      await eventually('the drop to be counted', () => (datapath.counters().counters.dropUnknownSource > before ? true : undefined));
      await sleep(50);
      assert.deepEqual(podSocket.received, []);
    } finally {
      stranger.socket.close();
    }
  });

  it('answers a destination without a peer with ICMP net unreachable that reaches the sender', async () => {
    const before = datapath.counters().counters.icmpUnreachableSent;
    await new Promise<void>((resolve, reject) => podSocket.socket.send('nobody', 7000, '10.98.3.5', (error) => (error ? reject(error) : resolve())));
    await eventually('the ICMP reply to be counted', () => (datapath.counters().counters.icmpUnreachableSent > before ? true : undefined));
    // Written into the TUN (upstream), the reply would be a martian (its source is a local address) and the
    // SYN would be retried for a minute; sent through the host, it fails the connect at once.
    const started = Date.now();
    const failure = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
      const socket = connect({ host: '10.98.3.5', port: 80, timeout: 3000 });
      socket.once('connect', () => resolve(undefined));
      socket.once('timeout', () => (socket.destroy(), resolve(Object.assign(new Error('timed out'), { code: 'TIMEOUT' }))));
      socket.once('error', (error: NodeJS.ErrnoException) => resolve(error));
    });
    assert.equal(failure?.code, 'ENETUNREACH', `connect failed with ${failure?.code} after ${Date.now() - started} ms`);
  });

  it('applies peer changes without a restart', async () => {
    const moved = await udpSocket(STRANGER, PORT);
    try {
      datapath.setPeers([{ ...peer, publicIp: IpAddress.parse(STRANGER) }]);
      // The change crosses between batches; retry until the first datagram goes to the new address.
      await eventually('traffic to follow the peer', () => {
        podSocket.socket.send('moved', 7000, '10.98.2.5');
        return moved.received.shift();
      });
      assert.equal(peerSocket.received.length, 0);
      datapath.setPeers([peer]);
    } finally {
      moved.socket.close();
    }
  });

  it('opens the device again when someone deletes it, and carries traffic on it', async () => {
    const old = datapath.device;
    run('ip', ['link', 'del', old.name]);
    const event = await eventually('the device to come back', () => devices.find((device) => device.reopened));
    assert.equal(event.name, old.name);
    assert.notEqual(event.index, old.index);
    assert.deepEqual(datapath.device, event);
    configure(event.name);
    peerSocket.received.length = 0;
    await eventually('traffic on the new device', () => {
      podSocket.socket.send('again', 7000, '10.98.2.5');
      return peerSocket.received.shift();
    });
    assert.equal(datapath.counters().counters.deviceReopens, 1);
    assert.deepEqual(errors, []);
  });

  it('stops within a second, and the device goes with it', async () => {
    const name = datapath.device.name;
    const started = Date.now();
    await datapath.stop();
    assert.ok(Date.now() - started < 1000, `stopped in ${Date.now() - started} ms`);
    assert.notEqual(run('ip', ['link', 'show', name], { allowFailure: true }).status, 0);
    await datapath.stop();
  });

  it('refuses to start on a port someone else holds, with the errno', async () => {
    const holder = await udpSocket(OURS, PORT + 1);
    try {
      await assert.rejects(UdpDatapath.start({
        tunName: 'ftu%d', tunAddress: IpAddress.parse('10.98.1.0'), bindAddress: IpAddress.parse(OURS), port: PORT + 1, mtu: 1472,
        onDevice: () => undefined, onError: () => undefined,
      }), (error: Error & { code?: string }) => error.code === 'EADDRINUSE' && /bind 127\.0\.0\.1:18286/.test(error.message));
    } finally {
      holder.socket.close();
    }
  });
});
