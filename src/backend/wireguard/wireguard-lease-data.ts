/**
 * wireguard's BackendData / BackendV6Data: `{"PublicKey":"<base64>","Port":<listen port>}`, byte for byte what
 * upstream's Go struct marshals (field order PublicKey, Port). Decoding follows Go's encoding/json into
 * `struct{PublicKey string; Port uint16}`: keys case-insensitive, unknown keys ignored, a missing Port is 0
 * (leases of flannel before v0.27 carry none: the reader then uses its own listen port). Pure.
 */
import type { LeaseProblem } from '../../lease/lease-validation.js';
import { isJsonObject, pickFields } from '../../support/json-fields.js';
import { WireguardKey } from './wireguard-key.js';

export interface WireguardLeaseData {
  readonly publicKey: WireguardKey;
  /** 0 when the lease does not say (use the reader's own listen port). */
  readonly port: number;
}

/** The JSON value to publish (encodeLeaseAttrs writes it compactly, in this key order). */
export function wireguardBackendData(publicKey: WireguardKey, port: number): { PublicKey: string; Port: number } {
  return { PublicKey: publicKey.toString(), Port: port };
}

/** A peer's data, or the problem naming the field (`BackendData.PublicKey`, …) and the value. */
export function decodeWireguardLeaseData(value: unknown, field: string): WireguardLeaseData | LeaseProblem {
  if (!isJsonObject(value)) return { field, value: JSON.stringify(value) ?? '(none)', reason: 'expected an object with PublicKey and Port' };
  const raw = pickFields(value, ['PublicKey', 'Port'] as const);
  const keyText = raw.PublicKey;
  if (typeof keyText !== 'string') return { field: `${field}.PublicKey`, value: JSON.stringify(keyText) ?? '(none)', reason: 'expected a base64 WireGuard public key' };
  const publicKey = WireguardKey.tryParse(keyText);
  if (typeof publicKey === 'string') return { field: `${field}.PublicKey`, value: JSON.stringify(keyText), reason: publicKey };
  const port = raw.Port ?? 0;
  if (port !== null && (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535)) {
    return { field: `${field}.Port`, value: JSON.stringify(port), reason: 'expected a UDP port (0..65535)' };
  }
  return { publicKey, port: port ?? 0 };
}

export function isLeaseProblem(value: WireguardLeaseData | LeaseProblem): value is LeaseProblem {
  return 'reason' in value;
}
