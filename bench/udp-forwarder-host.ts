/**
 * Runs our udp data path alone (no etcd, no reconciler) for the udp benchmarks and hand-made wire tests:
 *   node dist/bench/udp-forwarder-host.js --tun-address 10.244.1.0 --bind 198.18.0.1 --peer 10.244.2.0/24=198.18.0.2 [--port 8285]
 * Prints one JSON line per device it opens ({"device":…}), its counters as one JSON line ({"snapshot":…}) on
 * SIGUSR2, and on SIGTERM/SIGINT stops the data path and prints its counters ({"counters":…, "stopMs":…}). Addresses, MTU and the Network route on the device are the
 * caller's job (`ip addr add … dev flannel0` etc.), as they will be the reconciler's.
 */
import { parseArgs } from 'node:util';
import { UdpDatapath } from '../src/adapters/udp/udp-datapath.js';
import { Cidr, IpAddress } from '../src/net/ip.js';

const { values } = parseArgs({
  options: {
    'tun-address': { type: 'string' }, bind: { type: 'string' }, peer: { type: 'string', multiple: true, default: [] },
    port: { type: 'string', default: '8285' }, mtu: { type: 'string', default: '1472' }, 'tun-name': { type: 'string', default: 'flannel%d' },
    batch: { type: 'string', default: '64' }, 'no-offload': { type: 'boolean', default: false },
  },
});
if (!values['tun-address'] || !values.bind) throw new Error('--tun-address and --bind are required');

const peers = values.peer.map((text) => {
  const [subnet, publicIp] = text.split('=');
  return { subnet: Cidr.parse(subnet ?? ''), publicIp: IpAddress.parse(publicIp ?? '') };
});
const datapath = await UdpDatapath.start({
  tunName: values['tun-name'], tunAddress: IpAddress.parse(values['tun-address']), bindAddress: IpAddress.parse(values.bind),
  port: Number(values.port), mtu: Number(values.mtu), batchSize: Number(values.batch), offload: !values['no-offload'], peers,
  onDevice: (event) => console.log(JSON.stringify({ device: event })),
  onError: (error) => console.error(JSON.stringify({ error: error.message, code: error.code })),
});
const problems = datapath.setPeers(peers);
if (problems.length > 0) console.error(JSON.stringify({ problems }));

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  const started = Date.now();
  await datapath.stop();
  console.log(JSON.stringify({ counters: datapath.counters(), stopMs: Date.now() - started }));
};
process.on('SIGUSR2', () => console.log(JSON.stringify({ snapshot: datapath.counters() })));
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
