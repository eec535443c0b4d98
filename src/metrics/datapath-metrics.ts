/**
 * Data-path metrics: the udp forwarder's counters, WireGuard peers and handshake age, and the overlay probes of
 * datapath health. The data paths keep their own counters where they are cheapest to keep (the udp worker in a
 * SharedArrayBuffer, WireGuard in the kernel or wireguard-go), so these families are read at scrape time
 * from a source the backend registers (`udp.collectFrom(…)`, `wireguard.collectFrom(…)`); nothing is copied per
 * packet. Until a source is registered the families render with no samples.
 *
 * WireGuard has no per-peer label by default (5,000 peers would be 5,000 series): it exports counts and the
 * oldest handshake age per device; `perPeerHandshakes: true` (small clusters) adds one age series per peer.
 */
import type { MetricsSink } from './metrics-sink.js';

/** Why the udp forwarder dropped a packet (one label value each). */
export const UDP_DROP_REASONS = [
  'no_route', 'ttl_expired', 'runt', 'not_ipv4', 'bad_header', 'unknown_source', 'truncated', 'send_failed', 'tun_write_failed', 'bad_offload',
] as const;
export type UdpDropReason = (typeof UDP_DROP_REASONS)[number];

/** The udp forwarder's totals since it started (monotonic). */
export interface UdpDatapathSample {
  /** TUN → UDP: packets encapsulated and sent to peers. */
  readonly egressPackets: number;
  readonly egressBytes: number;
  /** UDP → TUN: packets received from peers and written to the TUN device. */
  readonly ingressPackets: number;
  readonly ingressBytes: number;
  readonly drops: Partial<Record<UdpDropReason, number>>;
  readonly icmpUnreachableSent: number;
}

/** One WireGuard device as last read by the backend. */
export interface WireguardDeviceSample {
  readonly device: string;
  readonly peers: ReadonlyArray<{
    /** Base64 public key (used as a label only with perPeerHandshakes). */
    readonly publicKey: string;
    /** Epoch ms of the last handshake; undefined when there was none. */
    readonly lastHandshakeEpochMs?: number;
    readonly rxBytes: number;
    readonly txBytes: number;
  }>;
}

/** A handshake older than this is not recent: WireGuard re-keys every 120 s while traffic flows and rejects sessions after 180 s. */
export const WIREGUARD_RECENT_HANDSHAKE_SECONDS = 180;

export type ProbeResult = 'ok' | 'timeout' | 'error';

export interface DatapathMetrics {
  readonly udp: {
    collectFrom(source: () => UdpDatapathSample | undefined): void;
  };
  readonly wireguard: {
    /** `nowMs` is read at scrape time to turn handshake times into ages. */
    collectFrom(source: () => readonly WireguardDeviceSample[], nowMs: () => number, options?: { perPeerHandshakes?: boolean }): void;
  };
  readonly probes: {
    /** One overlay probe to one peer. */
    probed(result: ProbeResult, rttSeconds?: number): void;
    /** Peers datapath health considers unreachable right now, and how many it watches. */
    setPeerHealth(unreachable: number, watched: number): void;
  };
}

export function createDatapathMetrics(sink: MetricsSink): DatapathMetrics {
  let udpSource: (() => UdpDatapathSample | undefined) | undefined;
  const udp = () => udpSource?.();
  sink.collected('counter', { name: 'flannel_udp_packets_total', help: 'Packets through the udp backend, by direction (egress: TUN to peers, ingress: peers to TUN).', labelNames: ['direction'] }, () => {
    const sample = udp();
    return sample ? [{ labels: { direction: 'egress' }, value: sample.egressPackets }, { labels: { direction: 'ingress' }, value: sample.ingressPackets }] : [];
  });
  sink.collected('counter', { name: 'flannel_udp_bytes_total', help: 'Bytes through the udp backend (inner packets), by direction.', labelNames: ['direction'] }, () => {
    const sample = udp();
    return sample ? [{ labels: { direction: 'egress' }, value: sample.egressBytes }, { labels: { direction: 'ingress' }, value: sample.ingressBytes }] : [];
  });
  sink.collected('counter', { name: 'flannel_udp_dropped_packets_total', help: 'Packets the udp backend dropped, by reason.', labelNames: ['reason'] }, () => {
    const sample = udp();
    return sample ? UDP_DROP_REASONS.map((reason) => ({ labels: { reason }, value: sample.drops[reason] ?? 0 })) : [];
  });
  sink.collected('counter', { name: 'flannel_udp_icmp_unreachable_sent_total', help: 'ICMP net-unreachable replies the udp backend wrote for packets without a peer.' }, () => {
    const sample = udp();
    return sample ? [{ labels: {}, value: sample.icmpUnreachableSent }] : [];
  });

  let wireguard: { source: () => readonly WireguardDeviceSample[]; nowMs: () => number; perPeer: boolean } | undefined;
  // One read per scrape feeds all WireGuard families (the source may walk thousands of peers).
  let cached: { at: number; devices: readonly WireguardDeviceSample[] } | undefined;
  const devices = (): readonly WireguardDeviceSample[] => {
    if (!wireguard) return [];
    const now = wireguard.nowMs();
    if (!cached || cached.at !== now) cached = { at: now, devices: wireguard.source() };
    return cached.devices;
  };
  const ageSeconds = (peer: WireguardDeviceSample['peers'][number]) =>
    peer.lastHandshakeEpochMs === undefined || !wireguard ? undefined : Math.max(0, (wireguard.nowMs() - peer.lastHandshakeEpochMs) / 1000);
  sink.collected('gauge', { name: 'flannel_wireguard_peers', help: 'Peers configured on each WireGuard device.', labelNames: ['device'] }, () =>
    devices().map((device) => ({ labels: { device: device.device }, value: device.peers.length })));
  sink.collected('gauge', {
    name: 'flannel_wireguard_peers_recent_handshake', help: `Peers on each WireGuard device with a handshake in the last ${WIREGUARD_RECENT_HANDSHAKE_SECONDS} s.`, labelNames: ['device'],
  }, () => devices().map((device) => ({
    labels: { device: device.device },
    value: device.peers.filter((peer) => (ageSeconds(peer) ?? Infinity) <= WIREGUARD_RECENT_HANDSHAKE_SECONDS).length,
  })));
  sink.collected('gauge', {
    name: 'flannel_wireguard_oldest_handshake_age_seconds', help: 'Age of the oldest last handshake among peers that had one, per WireGuard device.', labelNames: ['device'],
  }, () => devices().flatMap((device) => {
    const ages = device.peers.flatMap((peer) => ageSeconds(peer) ?? []);
    return ages.length === 0 ? [] : [{ labels: { device: device.device }, value: Math.max(...ages) }];
  }));
  sink.collected('gauge', {
    name: 'flannel_wireguard_last_handshake_age_seconds', help: 'Age of each peer\'s last handshake (only with per-peer handshake metrics enabled).', labelNames: ['device', 'peer'],
  }, () => (wireguard?.perPeer ? devices().flatMap((device) => device.peers.flatMap((peer) => {
    const age = ageSeconds(peer);
    return age === undefined ? [] : [{ labels: { device: device.device, peer: peer.publicKey }, value: age }];
  })) : []));
  sink.collected('counter', { name: 'flannel_wireguard_transfer_bytes_total', help: 'Bytes through each WireGuard device, by direction.', labelNames: ['device', 'direction'] }, () =>
    devices().flatMap((device) => [
      { labels: { device: device.device, direction: 'rx' }, value: device.peers.reduce((sum, peer) => sum + peer.rxBytes, 0) },
      { labels: { device: device.device, direction: 'tx' }, value: device.peers.reduce((sum, peer) => sum + peer.txBytes, 0) },
    ]));

  const probes = sink.counter({ name: 'flannel_peer_probes_total', help: 'Overlay probes sent to peers by datapath health, by result.', labelNames: ['result'] });
  const probeRtt = sink.histogram({
    name: 'flannel_peer_probe_rtt_seconds', help: 'Round-trip time of answered overlay probes.', buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
  });
  const unreachable = sink.gauge({ name: 'flannel_peers_unreachable', help: 'Peers that stopped answering overlay probes (after hysteresis).' });
  const watched = sink.gauge({ name: 'flannel_peers_probed', help: 'Peers datapath health has probed and tracks.' });

  return {
    udp: { collectFrom: (source) => void (udpSource = source) },
    wireguard: { collectFrom: (source, nowMs, options) => void (wireguard = { source, nowMs, perPeer: options?.perPeerHandshakes ?? false }) },
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
