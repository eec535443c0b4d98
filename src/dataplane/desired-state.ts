/**
 * What a backend's planner returns: the kernel state flannel-ts should own on this host, plus warnings about
 * peers it could not plan for (logged by the reconciler when they change). Pure data.
 *
 * Per-peer entries come in groups, one per peer. A planner returns the *same group object* for a peer whose
 * lease did not change, which lets the reconciler diff only the groups that changed (one lease event costs
 * O(that peer), not O(every peer)). Entries on devices flannel-ts creates name them (`linkName`); the reconciler
 * resolves names to indexes after creating the devices.
 */
import type { Cidr } from '../net/ip.js';
import type { Device } from './devices.js';
import type { Neighbour, Route } from './kernel-objects.js';

export interface DesiredAddress {
  readonly linkName: string;
  readonly address: Cidr;
}

export interface DesiredGroup {
  readonly neighbours: readonly Neighbour[];
  readonly routes: readonly Route[];
  /**
   * Set on a group that is no peer's: the route of the whole network over a udp or wireguard device, the
   * blackhole route of our subnet. Status reports such groups apart from the peers; the reconciler ignores it.
   */
  readonly network?: true;
}

export interface DesiredState {
  /** The devices to have in place (created by the reconciler or waited for, see devices.ts). */
  readonly devices: readonly Device[];
  /** The complete set of (non-link-local) addresses each of our devices should carry. */
  readonly addresses: readonly DesiredAddress[];
  /** The per-peer groups: a list, or a DesiredGroups the reconciler can catch up from in O(changes). */
  readonly groups: Iterable<DesiredGroup>;
  readonly warnings: readonly string[];
}

export const EMPTY_DESIRED_STATE: DesiredState = { devices: [], addresses: [], groups: [], warnings: [] };

/** Builds a state from flat lists (one group): for tests and small planners. */
export function desiredState(parts: Partial<Omit<DesiredState, 'groups'>> & Partial<DesiredGroup> = {}): DesiredState {
  const { neighbours = [], routes = [], ...rest } = parts;
  return { ...EMPTY_DESIRED_STATE, ...rest, groups: neighbours.length + routes.length > 0 ? [{ neighbours, routes }] : [] };
}

/** Every desired route / neighbour of a state, flattened (for tests and tools; the reconciler keeps groups). */
export function routesOf(state: DesiredState): Route[] {
  return [...state.groups].flatMap((group) => group.routes);
}

export function neighboursOf(state: DesiredState): Neighbour[] {
  return [...state.groups].flatMap((group) => group.neighbours);
}
