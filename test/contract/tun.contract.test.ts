/**
 * One suite, two TUNs: ChannelTun and a real TUN device (koffi, /dev/net/tun) in the namespace the contract
 * runner made. The kernel side is played by real UDP sockets routed through the device, or by the double's
 * `inject`/`delivered`. Keeps the double honest about what the forwarder relies on.
 */
import assert from 'node:assert/strict';
import { type Socket, createSocket } from 'node:dgram';
import { after, before, describe, it } from 'node:test';
import { KernelTunOpener } from '../../src/adapters/udp/kernel-tun.js';
import { ChannelTunHost, type ChannelTun } from '../../src/backend/udp/channel-tun.js';
import { DatapathCounters } from '../../src/backend/udp/datapath-counters.js';
import { PacketBatch, type TunDevice, type TunOpener } from '../../src/backend/udp/packet-ports.js';
import { run } from '../../src/lab/shell.js';
import { FlannelError } from '../../src/support/errors.js';
import { sleep } from '../../src/support/timing.js';
import { assertInContractNetns } from '../support/contract-netns.js';
import { udpPacket } from '../support/ipv4-packets.js';

const LOCAL = '10.99.0.1';
const REMOTE = '10.99.1.5';
const KERNEL_PORT = 6000;
/** Read buffer per packet for the fixtures that read packet by packet, and a payload that does not fit it. */
const READ_BYTES = 2048;
const TOO_BIG = 3000;

/** The kernel side of a TUN: what the contract drives and observes. */
interface TunFixture {
  readonly opener: TunOpener;
  /** Reads into a READ_BYTES buffer per packet (so a TOO_BIG datagram cannot be read whole). */
  readonly readsPacketByPacket: boolean;
  /** Gives the device our address, brings it up and routes 10.99.1.0/24 into it. */
  prepare(device: TunDevice): Promise<void>;
  /** The kernel sends UDP datagrams with these payloads from LOCAL to REMOTE:5000 (routed into the device). */
  kernelSend(device: TunDevice, payloads: readonly string[], payloadBytes?: number): Promise<void>;
  /** Payloads of the UDP datagrams the kernel received on LOCAL:6000 so far. */
  kernelReceived(): string[];
  deleteLink(name: string): void;
  linkExists(name: string): boolean;
  close(): void;
}

/** Payloads (after IPv4 + UDP headers) of the packets in `batch`; "<cut>" for one reported as too large. */
function payloadsOf(batch: PacketBatch): string[] {
  return Array.from({ length: batch.count }, (_, index) => {
    const offset = batch.offsets[index] as number;
    const length = batch.lengths[index] as number;
    return length < 0 ? '<cut>' : batch.buffer.subarray(offset + 28, offset + length).toString();
  });
}

/** Reads until `count` packets arrived (the kernel queues asynchronously to our reads) or 2 s passed. */
async function readAll(device: TunDevice, count: number): Promise<string[]> {
  const payloads: string[] = [];
  const batch = new PacketBatch(64, 1 << 20);
  for (const deadline = Date.now() + 2000; payloads.length < count && Date.now() < deadline;) {
    const read = device.readBatch(batch, 64);
    payloads.push(...payloadsOf(batch));
    if (read === 0) await sleep(5);
  }
  return payloads;
}

function tunContract(name: string, setUp: () => Promise<TunFixture>): void {
  describe(`TUN contract: ${name}`, () => {
    let fixture: TunFixture;
    let device: TunDevice;
    const batch = new PacketBatch(8, 1 << 20);
    before(async () => {
      fixture = await setUp();
      device = fixture.opener.open('ftc%d');
      await fixture.prepare(device);
    });
    after(() => {
      device?.close();
      fixture?.close();
    });

    it('resolves a %d template to the lowest free number; an exact name held by an open device is busy', () => {
      assert.equal(device.name, 'ftc0');
      const second = fixture.opener.open('ftc%d');
      try {
        assert.equal(second.name, 'ftc1');
        assert.ok(second.index > 0 && second.index !== device.index);
        assert.throws(() => fixture.opener.open('ftc0'), (error: FlannelError) => error.code === 'EBUSY');
      } finally {
        second.close();
      }
    });

    it('reads nothing, without blocking, when nothing is queued, and says it is drained', () => {
      const empty = new PacketBatch(8, 1 << 20);
      assert.equal(device.readBatch(empty, 8), 0);
      assert.equal(empty.drained, true);
    });

    it('reads each packet the kernel routes into it whole (raw IPv4, no PI header), in order, stopping at max', async () => {
      await fixture.kernelSend(device, ['one', 'two', 'three', 'four', 'five']);
      const batch = new PacketBatch(8, 1 << 20);
      let first = 0;
      for (const deadline = Date.now() + 2000; first === 0 && Date.now() < deadline; await sleep(5)) first = device.readBatch(batch, 3);
      assert.ok(first >= 1 && first <= 3, `first read brought ${first}`); // no superpackets: UDP is never TSO
      const firstPayloads = payloadsOf(batch);
      const rest = await readAll(device, 5 - first);
      assert.deepEqual([...firstPayloads, ...rest], ['one', 'two', 'three', 'four', 'five']);
      const packet = batch.buffer.subarray(batch.offsets[0] as number);
      assert.equal(packet[0], 0x45, 'IPv4, 20-byte header, first byte of the read');
      assert.equal(batch.lengths[0], 20 + 8 + 3);
      assert.equal(packet.readUInt32BE(16), 0x0a630105, `destination ${REMOTE}`);
    });

    it('reports a packet too large for its read buffer as length −1 instead of cutting it', async (context) => {
      if (!fixture.readsPacketByPacket) return context.skip('with offloads every read buffer holds 64 KiB');
      await fixture.kernelSend(device, ['big'], TOO_BIG);
      assert.deepEqual(await readAll(device, 1), ['<cut>']);
    });

    it('delivers a written IPv4 packet to the kernel, and refuses one that is neither IPv4 nor IPv6', async () => {
      const packet = udpPacket(REMOTE, LOCAL, 'hello kernel', { destinationPort: KERNEL_PORT });
      const framed = Buffer.concat([Buffer.alloc(5), packet]);
      assert.equal(device.write(framed, 5, packet.length), true);
      const garbage = Buffer.alloc(40, 0x11);
      assert.equal(device.write(garbage, 0, garbage.length), false);
      for (const deadline = Date.now() + 2000; fixture.kernelReceived().length === 0 && Date.now() < deadline;) await sleep(5);
      assert.deepEqual(fixture.kernelReceived(), ['hello kernel']);
    });

    it('fails reads and writes with TUN_GONE once someone deletes it, and frees the name', async () => {
      const doomed = fixture.opener.open('ftcd%d');
      fixture.deleteLink(doomed.name);
      const gone = (error: FlannelError) => error.code === 'TUN_GONE';
      assert.throws(() => doomed.readBatch(batch, 8), gone);
      batch.clear();
      batch.buffer.set(udpPacket(REMOTE, LOCAL, 'y'), batch.offsets[batch.append(29)] as number);
      assert.throws(() => doomed.writeBatch(batch, Int32Array.of(0), 1), gone);
      const packet = udpPacket(REMOTE, LOCAL, 'x');
      assert.throws(() => doomed.write(packet, 0, packet.length), gone);
      doomed.close();
      const again = fixture.opener.open(doomed.name);
      assert.equal(again.name, doomed.name);
      again.close();
    });

    it('is deleted when closed (not persistent)', () => {
      const transient = fixture.opener.open('ftct%d');
      assert.equal(fixture.linkExists(transient.name), true);
      transient.close();
      assert.equal(fixture.linkExists(transient.name), false);
      assert.doesNotThrow(() => transient.close(), 'closing twice is harmless');
    });
  });
}

tunContract('ChannelTun', async () => {
  const host = new ChannelTunHost(READ_BYTES);
  return {
    opener: host,
    readsPacketByPacket: true,
    prepare: async () => undefined,
    kernelSend: async (device, payloads, payloadBytes) => {
      for (const payload of payloads) {
        const body = payloadBytes ? payload.padEnd(payloadBytes, '.') : payload;
        (device as ChannelTun).inject(udpPacket(LOCAL, REMOTE, body, { destinationPort: 5000 }));
      }
    },
    kernelReceived: () => {
      const device = host.devices.get('ftc0');
      return (device?.delivered ?? [])
        .map((packet) => Buffer.from(packet))
        .filter((packet) => packet[9] === 17 && packet.readUInt16BE(22) === KERNEL_PORT)
        .map((packet) => packet.subarray(28).toString());
    },
    deleteLink: (name) => host.deleteLink(name),
    linkExists: (name) => host.devices.has(name),
    close: () => undefined,
  };
});

/** The real TUN: packet by packet, and with offloads (virtio header, TSO reads; the MTU then caps packets). */
for (const offload of [false, true]) {
  tunContract(`real TUN (koffi, /dev/net/tun${offload ? ', offloads' : ''})`, async () => {
    assertInContractNetns();
    const opener = new KernelTunOpener({ counters: new DatapathCounters(), packetBytes: READ_BYTES, offload });
    const received: string[] = [];
    const listener: Socket = createSocket('udp4');
    const sender: Socket = createSocket('udp4');
    let prepared = false;
    return {
      opener,
      readsPacketByPacket: !offload,
      prepare: async (device) => {
        // No IPv6 on the test device: router solicitations would otherwise show up among the reads.
        run('sysctl', ['-qw', `net.ipv6.conf.${device.name}.disable_ipv6=1`]);
        run('ip', ['addr', 'add', `${LOCAL}/32`, 'dev', device.name]);
        // With offloads the read buffer holds 64 KiB, so the MTU is what keeps a big datagram out (as IP fragments).
        run('ip', ['link', 'set', device.name, 'mtu', offload ? '1500' : '4000', 'up']);
        run('ip', ['route', 'add', '10.99.1.0/24', 'dev', device.name]);
        listener.on('message', (message) => received.push(message.toString()));
        await new Promise<void>((resolve) => listener.bind(KERNEL_PORT, LOCAL, resolve));
        prepared = true;
      },
      kernelSend: async (_device, payloads, payloadBytes) => {
        if (!prepared) throw new Error('prepare first');
        for (const payload of payloads) {
          const body = payloadBytes ? payload.padEnd(payloadBytes, '.') : payload;
          await new Promise<void>((resolve, reject) => sender.send(body, 5000, REMOTE, (error) => (error ? reject(error) : resolve())));
        }
      },
      kernelReceived: () => [...received],
      deleteLink: (name) => run('ip', ['link', 'del', name]),
      linkExists: (name) => run('ip', ['link', 'show', name], { allowFailure: true }).status === 0,
      close: () => {
        listener.close();
        sender.close();
        opener.close();
      },
    };
  });
}
