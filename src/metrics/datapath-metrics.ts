/**
 * Data-path metrics: the udp forwarder's and WireGuard's counters, and the overlay probes of datapath health.
 *
 * The data paths keep their counters where they are cheapest to keep (the udp worker in a SharedArrayBuffer,
 * WireGuard in the kernel or wireguard-go) and publish them as one flat record (DataPathContext.counters); these
 * families read that record at scrape time (`collectCounters`) and map its names onto families and labels
 * (datapath-counter-map.ts), so nothing is copied per packet and nothing is computed between scrapes. Until a
 * data path publishes, the families render with no samples.
 *
 * No per-peer label: WireGuard exports counts and the oldest handshake age per device (5,000 peers must not be
 * 5,000 series).
 */
import { OTHER_EVENTS_FAMILY, type MappedSample, mapDataPathCounters } from './datapath-counter-map.js';
import type { MetricsSink } from './metrics-sink.js';
import { ScrapeReading } from './scrape-reading.js';

/** What the data path last published, and the backend it belongs to (the mapping is per backend). */
export interface DataPathCounterReading {
  readonly backend: string;
  readonly counters: Readonly<Record<string, number>>;
}

/** A handshake older than this is not recent: WireGuard re-keys every 120 s while traffic flows and rejects sessions after 180 s. */
export const WIREGUARD_RECENT_HANDSHAKE_SECONDS = 180;

export type ProbeResult = 'ok' | 'timeout' | 'error';

export interface DatapathMetrics {
  /** The data path's counters, read at scrape time (undefined: no data path, or nothing published yet). */
  collectCounters(source: () => DataPathCounterReading | undefined): void;
  readonly probes: {
    /** One overlay probe to one peer. */
    probed(result: ProbeResult, rttSeconds?: number): void;
    /** Peers datapath health considers unreachable right now, and how many it watches. */
    setPeerHealth(unreachable: number, watched: number): void;
  };
}

/** The families fed by data-path counters, in rendering order, with their labels. */
const COUNTER_FAMILIES: ReadonlyArray<{ type: 'counter' | 'gauge'; name: string; help: string; labelNames?: readonly string[] }> = [
  { type: 'counter', name: 'flannel_udp_packets_total', help: 'Packets through the udp backend, by direction (egress: sent to peers, ingress: from peers, written to the TUN).', labelNames: ['direction'] },
  { type: 'counter', name: 'flannel_udp_bytes_total', help: 'Bytes through the udp backend (inner packets), by direction.', labelNames: ['direction'] },
  { type: 'counter', name: 'flannel_udp_dropped_packets_total', help: 'Packets the udp backend dropped, by reason.', labelNames: ['reason'] },
  { type: 'counter', name: 'flannel_udp_icmp_unreachable_sent_total', help: 'ICMP net-unreachable replies the udp backend wrote for packets without a peer.' },
  { type: 'gauge', name: 'flannel_wireguard_peers', help: 'Peers configured on each WireGuard device.', labelNames: ['device'] },
  { type: 'gauge', name: 'flannel_wireguard_peers_recent_handshake', help: `Peers on each WireGuard device with a handshake in the last ${WIREGUARD_RECENT_HANDSHAKE_SECONDS} s.`, labelNames: ['device'] },
  { type: 'gauge', name: 'flannel_wireguard_oldest_handshake_age_seconds', help: 'Age of the oldest last handshake among peers that had one, per WireGuard device.', labelNames: ['device'] },
  { type: 'counter', name: 'flannel_wireguard_transfer_bytes_total', help: 'Bytes through each WireGuard device, by direction.', labelNames: ['device', 'direction'] },
  { type: 'counter', name: 'flannel_wireguard_sync_passes_total', help: 'Passes that compared the WireGuard devices with the leases.' },
  { type: 'counter', name: 'flannel_wireguard_sync_failures_total', help: 'WireGuard sync passes with a device that could not be read or configured.' },
  { type: 'counter', name: 'flannel_wireguard_repairs_total', help: 'WireGuard peer settings found different from the leases and put back (a fresh device\'s first configuration included).' },
  { type: 'counter', name: 'flannel_wireguard_go_starts_total', help: 'wireguard-go processes started (userspace implementation; restarts included).' },
  { type: 'counter', name: OTHER_EVENTS_FAMILY, help: 'Other totals a backend\'s data path counts (udp: syscalls, offload, device reopens…), by backend and counter name.', labelNames: ['backend', 'counter'] },
];

export function createDatapathMetrics(sink: MetricsSink): DatapathMetrics {
  let counterSource: (() => DataPathCounterReading | undefined) | undefined;
  const mapped = new ScrapeReading<Map<string, MappedSample[]>>(() => {
    const reading = counterSource?.();
    return reading ? mapDataPathCounters(reading.backend, reading.counters) : new Map();
  }, new Map());
  COUNTER_FAMILIES.forEach((family, index) => {
    sink.collected(family.type, { name: family.name, help: family.help, labelNames: family.labelNames ?? [] }, () =>
      ((index === 0 ? mapped.fresh() : mapped.current()).get(family.name) ?? []).map((sample) => ({ labels: sample.labels, value: sample.value })));
  });

  const probes = sink.counter({ name: 'flannel_peer_probes_total', help: 'Overlay probes sent to peers by datapath health, by result.', labelNames: ['result'] });
  const probeRtt = sink.histogram({
    name: 'flannel_peer_probe_rtt_seconds', help: 'Round-trip time of answered overlay probes.', buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
  });
  const unreachable = sink.gauge({ name: 'flannel_peers_unreachable', help: 'Peers that stopped answering overlay probes (after hysteresis).' });
  const watched = sink.gauge({ name: 'flannel_peers_probed', help: 'Peers datapath health has probed and tracks.' });

  return {
    collectCounters: (source) => void (counterSource = source),
    probes: {
      probed(result, rttSeconds) {
        probes.inc({ result });
        if (result === 'ok' && rttSeconds !== undefined) probeRtt.observe({}, rttSeconds);
      },
      setPeerHealth(down, total) {
        unreachable.set({}, down);
        watched.set({}, total);
      },
    },
  };
}
