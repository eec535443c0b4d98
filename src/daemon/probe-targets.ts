/**
 * What flanneld's datapath health probes (src/ops/probe): our lease with the overlay's parameters — the VXLAN
 * device's MAC, VNI and port as the backend plans them, or the udp port from the network config — and the
 * admitted peers. Undefined until the daemon holds a lease. Pure.
 */
import type { Backend } from '../backend/backend.js';
import type { NetworkConfig } from '../config/network-config.js';
import type { Lease } from '../lease/lease.js';
import type { PeerAdmission } from '../lease/peer-admission.js';
import type { ProbeContext } from '../ops/probe/probe-target.js';
import { overlayPortOf } from '../traffic/ingress-rules.js';

export interface ProbeTargets {
  readonly context: ProbeContext;
  readonly peers: readonly Lease[];
}

export function probeTargetsOf(parts: { config?: NetworkConfig; backend?: Backend; lease?: Lease; admission?: PeerAdmission }): ProbeTargets | undefined {
  const { config, backend, lease: own, admission } = parts;
  if (!config || !backend || !own || !admission) return undefined;
  // Probes are IPv4 (probe-target.ts): the IPv4 VXLAN device is the one that answers them.
  const vxlan = backend.devices?.find((device) => device.kind === 'vxlan' && !device.name.startsWith('flannel-v6.'));
  const port = overlayPortOf(config);
  const context: ProbeContext = {
    backendType: config.backendType, own, ...(port === undefined ? {} : { port }),
    ...(vxlan?.kind === 'vxlan' ? { ownVtepMac: vxlan.mac, vni: vxlan.vni, port: vxlan.port } : {}),
  };
  return { context, peers: admission.peers() };
}
