/**
 * A child process for the udp data path's memory-safety contract test: starts the real data path (worker,
 * TUN, socket), replaces its peer set as fast as it can for `argv[2]` ms — every change wakes the idle worker
 * through its eventfd, whose counter the kernel writes into a buffer by raw address — then stops it and
 * prints `stopped ok`. Run under V8 flags that optimize at once and collect and compact often, and glibc's
 * heap checks, a buffer the worker reaches only by address is freed and written to: the process aborts.
 */
import { UdpDatapath } from '../../src/adapters/udp/udp-datapath.js';
import { Cidr, IpAddress } from '../../src/net/ip.js';

const durationMs = Number(process.argv[2] ?? 3000);
const datapath = await UdpDatapath.start({
  tunName: 'ftgc%d', tunAddress: IpAddress.parse('10.97.1.0'), bindAddress: IpAddress.parse('127.0.0.1'), port: 18299, mtu: 1472, peers: [],
  onDevice: () => undefined, onError: (error) => console.error(error.message),
});
const started = Date.now();
for (let round = 0; Date.now() - started < durationMs; round++) {
  datapath.setPeers(Array.from({ length: 50 + (round % 50) }, (_, k) => ({ subnet: Cidr.parse(`10.97.${k + 2}.0/24`), publicIp: IpAddress.parse(`127.0.1.${((k + round) % 250) + 1}`) })));
  if (round % 20 === 0) await new Promise((resolve) => setTimeout(resolve, 1));
}
await datapath.stop();
console.log('stopped ok');
