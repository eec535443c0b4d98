/**
 * From the flat counters a backend's data path publishes (DataPathContext.counters → Daemon.dataPathCounters)
 * to flannel's metric families, pure. Each backend's data path names its counters in its own code; the rules
 * below say, per backend type, which names feed which family with which labels. A name no rule matches is not
 * lost: it lands in `flannel_datapath_events_total{backend,counter}` (the CounterSink contract makes published
 * values totals since start), so a counter a data path adds later is visible before anyone maps it.
 *
 * Names (agreed with the data paths' code):
 * - udp (src/backend/udp/datapath-counters.ts): `udpPacketsSent`/`udpBytesSent` (encapsulated to peers: egress),
 *   `tunPacketsWritten`/`tunBytesWritten` (from peers, delivered to the TUN: ingress), `drop<Reason>` (one per
 *   drop reason, the label is the reason in snake case: `dropNoRoute` → `no_route`), `icmpUnreachableSent`;
 *   the rest (syscalls, offload superpackets, device reopens…) are other events.
 * - wireguard: `<device>.peers`, `<device>.peersRecentHandshake`, `<device>.oldestHandshakeAgeSeconds` (gauges
 *   of the last read-back), `<device>.rxBytes`/`<device>.txBytes`, and the totals `syncPasses`, `syncFailures`,
 *   `repairs` (peer settings put back), `wireguardGoStarts`.
 *
 * Label values must look like names (`LABEL_VALUE`): a counter or device name that does not is skipped, so what
 * a data path publishes can never mint arbitrary series (and every family is capped anyway).
 */

/** One sample for one family. */
export interface MappedSample {
  readonly family: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

interface Rule {
  readonly pattern: RegExp;
  readonly family: string;
  /** Labels from the match (every value is checked against LABEL_VALUE). */
  readonly labels?: (match: RegExpExecArray) => Record<string, string>;
}

export const OTHER_EVENTS_FAMILY = 'flannel_datapath_events_total';
const LABEL_VALUE = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;

const snakeCase = (camel: string) => camel.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();

const RULES: Readonly<Record<string, readonly Rule[]>> = {
  udp: [
    { pattern: /^udpPacketsSent$/, family: 'flannel_udp_packets_total', labels: () => ({ direction: 'egress' }) },
    { pattern: /^tunPacketsWritten$/, family: 'flannel_udp_packets_total', labels: () => ({ direction: 'ingress' }) },
    { pattern: /^udpBytesSent$/, family: 'flannel_udp_bytes_total', labels: () => ({ direction: 'egress' }) },
    { pattern: /^tunBytesWritten$/, family: 'flannel_udp_bytes_total', labels: () => ({ direction: 'ingress' }) },
    { pattern: /^drop([A-Z][A-Za-z0-9]*)$/, family: 'flannel_udp_dropped_packets_total', labels: (match) => ({ reason: snakeCase(match[1] as string) }) },
    { pattern: /^icmpUnreachableSent$/, family: 'flannel_udp_icmp_unreachable_sent_total' },
  ],
  wireguard: [
    { pattern: /^(.+)\.peers$/, family: 'flannel_wireguard_peers', labels: (match) => ({ device: match[1] as string }) },
    { pattern: /^(.+)\.peersRecentHandshake$/, family: 'flannel_wireguard_peers_recent_handshake', labels: (match) => ({ device: match[1] as string }) },
    { pattern: /^(.+)\.oldestHandshakeAgeSeconds$/, family: 'flannel_wireguard_oldest_handshake_age_seconds', labels: (match) => ({ device: match[1] as string }) },
    { pattern: /^(.+)\.(rx|tx)Bytes$/, family: 'flannel_wireguard_transfer_bytes_total', labels: (match) => ({ device: match[1] as string, direction: match[2] as string }) },
    { pattern: /^syncPasses$/, family: 'flannel_wireguard_sync_passes_total' },
    { pattern: /^syncFailures$/, family: 'flannel_wireguard_sync_failures_total' },
    { pattern: /^repairs$/, family: 'flannel_wireguard_repairs_total' },
    { pattern: /^wireguardGoStarts$/, family: 'flannel_wireguard_go_starts_total' },
  ],
};

/** Every sample the counters feed, grouped by family (families without samples are absent). */
export function mapDataPathCounters(backend: string, counters: Readonly<Record<string, number>>): Map<string, MappedSample[]> {
  const byFamily = new Map<string, MappedSample[]>();
  const add = (sample: MappedSample) => {
    const list = byFamily.get(sample.family);
    if (list) list.push(sample);
    else byFamily.set(sample.family, [sample]);
  };
  const rules = Object.hasOwn(RULES, backend) ? (RULES[backend] as readonly Rule[]) : [];
  for (const [name, value] of Object.entries(counters)) {
    if (typeof value !== 'number' || Number.isNaN(value)) continue;
    let mapped: MappedSample | undefined;
    for (const rule of rules) {
      const match = rule.pattern.exec(name);
      if (!match) continue;
      mapped = { family: rule.family, labels: rule.labels?.(match) ?? {}, value };
      break;
    }
    mapped ??= { family: OTHER_EVENTS_FAMILY, labels: { backend, counter: name }, value };
    if (Object.values(mapped.labels).every((label) => LABEL_VALUE.test(label))) add(mapped);
  }
  return byFamily;
}
