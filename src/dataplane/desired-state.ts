/**
 * What a backend's planner returns: the kernel state flannel-ts should own on this host, plus warnings about
 * peers it could not plan for (logged by the reconciler when they change). Pure data. Entries on devices
 * flannel-ts creates refer to them by `linkName`; the reconciler resolves names after creating the devices.
 */
import type { Cidr } from '../net/ip.js';
import type { Neighbour, Route, VxlanDevice } from './kernel-objects.js';

export interface DesiredAddress {
  readonly linkName: string;
  readonly address: Cidr;
}

export interface DesiredState {
  readonly devices: readonly VxlanDevice[];
  /** The complete set of (non-link-local) addresses each of our devices should carry. */
  readonly addresses: readonly DesiredAddress[];
  readonly neighbours: readonly Neighbour[];
  readonly routes: readonly Route[];
  readonly warnings: readonly string[];
}

export const EMPTY_DESIRED_STATE: DesiredState = { devices: [], addresses: [], neighbours: [], routes: [], warnings: [] };

export function desiredState(parts: Partial<DesiredState>): DesiredState {
  return { ...EMPTY_DESIRED_STATE, ...parts };
}
