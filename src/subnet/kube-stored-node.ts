/**
 * What our own Node remembers from before (reference §4.6), pure:
 * - `storedPublicIPs`: the user's `node-public-ip` / `node-public-ipv6` annotations, which override
 *   --public-ip / --public-ipv6 at start-up ("" when unset, as upstream returns them).
 * - `storedVtepMacs`: the VTEP MACs published in `backend-data` / `backend-v6-data`, so a recreated flannel.N
 *   keeps the MAC peers already know. Upstream trims `"}` and splits on `:"`, which breaks on any other field
 *   order, and builds the key from the raw prefix (missing the annotation whenever the prefix has a `/`); here
 *   the normalised annotation is decoded as JSON and its VtepMAC (Go's case-insensitive field match) must be a
 *   MAC address, else it is reported in `problems` and not used.
 */
import { MacAddress } from '../net/mac.js';
import { isJsonObject, pickFields } from '../support/json-fields.js';
import type { KubeAnnotations } from './kube-annotations.js';
import type { KubeNode } from './kube-api.js';

export interface StoredPublicIPs {
  readonly publicIP: string;
  readonly publicIPv6: string;
}

export function storedPublicIPs(node: KubeNode, names: KubeAnnotations): StoredPublicIPs {
  return { publicIP: node.annotations[names.backendNodePublicIP] ?? '', publicIPv6: node.annotations[names.backendNodePublicIPv6] ?? '' };
}

export interface StoredVtepMacs {
  readonly v4?: MacAddress;
  readonly v6?: MacAddress;
  /** Annotations present but unusable, each naming the annotation and its value. */
  readonly problems: readonly string[];
}

export function storedVtepMacs(node: KubeNode, names: KubeAnnotations): StoredVtepMacs {
  const problems: string[] = [];
  const read = (name: string): MacAddress | undefined => {
    const text = node.annotations[name];
    if (text === undefined || text === '' || text === 'null') return undefined;
    let document: unknown;
    try {
      document = JSON.parse(text);
    } catch {
      problems.push(`${name}: not JSON: ${JSON.stringify(text.slice(0, 80))}`);
      return undefined;
    }
    const mac = isJsonObject(document) ? pickFields(document, ['VtepMAC'] as const).VtepMAC : undefined;
    const parsed = typeof mac === 'string' ? MacAddress.tryParse(mac) : undefined;
    if (!parsed) problems.push(`${name}: VtepMAC is not a MAC address: ${JSON.stringify(text.slice(0, 80))}`);
    return parsed;
  };
  const v4 = read(names.backendData);
  const v6 = read(names.backendV6Data);
  return { ...(v4 ? { v4 } : {}), ...(v6 ? { v6 } : {}), problems };
}
