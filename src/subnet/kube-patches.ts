/**
 * The bodies flannel PATCHes onto its Node (strategic merge, `nodes/<name>/status`), byte for byte as upstream
 * builds them (reference §4.3, §4.5), pure:
 *
 * - `annotationPatch`: upstream's AcquireLease decides whether the node needs a patch, sets backend-type, the
 *   IPv4 block (backend-data, public-ip, or public-ip-overwrite's value) unless this is vxlan without IPv4 data,
 *   the IPv6 block for the backends that publish one, and kube-subnet-manager; then it sends the two-way merge
 *   patch between the old and new node: `{"metadata":{"annotations":{…only changed keys, sorted…}}}` (`{}` when
 *   nothing changed), with Go's JSON escaping.
 * - `networkUnavailablePatch`: the NetworkUnavailable=False condition (reason FlannelIsUp), times in RFC 3339
 *   seconds, UTC, as metav1.Time marshals them.
 */
import type { LeaseAttrs } from '../lease/lease.js';
import type { KubeAnnotations } from './kube-annotations.js';
import type { KubeNode } from './kube-api.js';
import { compareGoStrings, goJson } from '../support/go-json.js';

/** The text upstream compares and writes for backend data: Go's json.Marshal of the value, `null` when none. */
export function backendDataText(value: unknown): string {
  return value === undefined ? 'null' : goJson(value);
}

/**
 * The annotation patch for our node, or undefined when upstream would not patch at all. The caller need not
 * send `{}` (upstream does, to no effect).
 */
export function annotationPatch(node: KubeNode, attrs: LeaseAttrs, names: KubeAnnotations): string | undefined {
  const old = node.annotations;
  const get = (name: string) => old[name] ?? '';
  const data = backendDataText(attrs.backendData);
  const v6Data = backendDataText(attrs.backendV6Data);
  const publicIP = attrs.publicIP.toString();
  const publicIPv6 = attrs.publicIPv6?.toString();
  const overwrite = get(names.backendPublicIPOverwrite);
  const overwriteV6 = get(names.backendPublicIPv6Overwrite);
  const managed = get(names.subnetKubeManaged) === 'true';
  const stale =
    get(names.backendData) !== data || get(names.backendType) !== attrs.backendType || get(names.backendPublicIP) !== publicIP ||
    !managed || (overwrite !== '' && overwrite !== publicIP) ||
    (publicIPv6 !== undefined &&
      (get(names.backendV6Data) !== v6Data || get(names.backendPublicIPv6) !== publicIPv6 || (overwriteV6 !== '' && overwriteV6 !== publicIPv6)));
  if (!stale) return undefined;

  const next: Record<string, string> = { ...old };
  const type = attrs.backendType;
  next[names.backendType] = type;
  if ((type === 'vxlan' && data !== 'null') || (type === 'wireguard' && data !== 'null') || type !== 'vxlan') {
    next[names.backendData] = data;
    next[names.backendPublicIP] = overwrite !== '' ? overwrite : publicIP;
  }
  if ((type === 'vxlan' && v6Data !== 'null') || (type === 'wireguard' && v6Data !== 'null' && publicIPv6 !== undefined) ||
    ((type === 'host-gw' || type === 'extension') && publicIPv6 !== undefined)) {
    next[names.backendV6Data] = v6Data;
    // Upstream dereferences a nil PublicIPv6 here (vxlan with v6 data but no IPv6 address cannot happen).
    next[names.backendPublicIPv6] = overwriteV6 !== '' ? overwriteV6 : (publicIPv6 ?? '');
  }
  next[names.subnetKubeManaged] = 'true';

  const changed = Object.keys(next).filter((key) => next[key] !== old[key]).sort(compareGoStrings);
  if (changed.length === 0) return '{}';
  const body = changed.map((key) => `${goJson(key)}:${goJson(next[key])}`).join(',');
  return `{"metadata":{"annotations":{${body}}}}`;
}

/** The NetworkUnavailable=False condition upstream's CompleteLease patches, at `nowMs`. */
export function networkUnavailablePatch(nowMs: number): string {
  const time = new Date(Math.floor(nowMs / 1000) * 1000).toISOString().replace('.000Z', 'Z');
  const condition = `{"type":"NetworkUnavailable","status":"False","lastHeartbeatTime":"${time}","lastTransitionTime":"${time}",` +
    `"reason":"FlannelIsUp","message":"Flannel is running on this node"}`;
  return `{"status":{"conditions":[${condition}]}}`;
}
