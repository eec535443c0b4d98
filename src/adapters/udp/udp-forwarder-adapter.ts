/**
 * The UdpForwarderPort (src/backend/data-path-ports.ts) on the real data path, UdpDatapath: a worker thread
 * with the TUN device and the UDP socket. Counters go out flat (datapath-counters.ts `flatCounters`).
 */
import type { RunningUdpForwarder, UdpForwarderOptions, UdpForwarderPort } from '../../backend/data-path-ports.js';
import { flatCounters } from '../../backend/udp/datapath-counters.js';
import { UdpDatapath } from './udp-datapath.js';

export const kernelUdpForwarder: UdpForwarderPort = {
  async start(options: UdpForwarderOptions): Promise<RunningUdpForwarder> {
    const datapath = await UdpDatapath.start(options);
    return {
      setPeers: (peers) => datapath.setPeers(peers),
      counters: () => flatCounters(datapath.counters()),
      stop: () => datapath.stop(),
    };
  },
};
