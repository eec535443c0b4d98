/**
 * Fields of a lease's BackendData as the tools read them: keys matched case-insensitively (Go's
 * encoding/json decodes them that way), wrong types read as absent. For diagnosis only; admission validates.
 */
import { MacAddress } from '../net/mac.js';

export function backendField(data: unknown, name: string): unknown {
  if (typeof data !== 'object' || data === null) return undefined;
  return Object.entries(data).find(([key]) => key.toLowerCase() === name.toLowerCase())?.[1];
}

/** vxlan's VtepMAC. */
export function vtepMacOf(data: unknown): MacAddress | undefined {
  const value = backendField(data, 'VtepMAC');
  return typeof value === 'string' ? MacAddress.tryParse(value) : undefined;
}

/** wireguard's Port (0 or absent: undefined). */
export function backendPortOf(data: unknown): number | undefined {
  const value = backendField(data, 'Port');
  return typeof value === 'number' && Number.isInteger(value) && value > 0 ? value : undefined;
}
