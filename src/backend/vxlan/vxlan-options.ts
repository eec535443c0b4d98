/**
 * The vxlan Backend options (reference §5.1): VNI (default 1), Port (0 → the kernel's 8472), MTU (default the
 * external interface's), GBP, Learning, DirectRouting; keys case-insensitive as upstream. Every problem is
 * reported at once, naming the field and the value. Pure.
 */
import { ValidationError } from '../../support/errors.js';
import { pickFields } from '../../support/json-fields.js';

export interface VxlanOptions {
  readonly vni: number;
  readonly port: number;
  readonly mtu?: number;
  readonly gbp: boolean;
  readonly learning: boolean;
  readonly directRouting: boolean;
}

export const VXLAN_DEFAULT_PORT = 8472;
const FIELDS = ['Type', 'VNI', 'Port', 'MTU', 'GBP', 'Learning', 'DirectRouting'] as const;

export function parseVxlanOptions(backend: Readonly<Record<string, unknown>> | undefined): VxlanOptions {
  const raw = pickFields(backend ?? {}, FIELDS);
  const problems: string[] = [];
  const integer = (field: (typeof FIELDS)[number], min: number, max: number): number | undefined => {
    const value = raw[field];
    if (value === undefined || value === null) return undefined;
    if (typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max) return value;
    problems.push(`Backend.${field}: expected an integer in ${min}..${max}, got ${JSON.stringify(value)}`);
    return undefined;
  };
  const bool = (field: (typeof FIELDS)[number]): boolean => {
    const value = raw[field];
    if (value === undefined || value === null) return false;
    if (typeof value === 'boolean') return value;
    problems.push(`Backend.${field}: expected true or false, got ${JSON.stringify(value)}`);
    return false;
  };
  const vni = integer('VNI', 0, 0xffffff) ?? 1;
  const port = integer('Port', 0, 65535) || VXLAN_DEFAULT_PORT;
  const mtu = integer('MTU', 68, 65535);
  const options = { vni, port, gbp: bool('GBP'), learning: bool('Learning'), directRouting: bool('DirectRouting') };
  if (problems.length > 0) throw new ValidationError(problems, 'vxlan backend config');
  return mtu === undefined ? options : { ...options, mtu };
}
