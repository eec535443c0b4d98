/**
 * What a backend's planner returns: the kernel state flannel-ts should own on this host, plus warnings about
 * peers it could not plan for (logged by the reconciler when they change). Pure data.
 */
import type { Route } from './kernel-objects.js';

export interface DesiredState {
  readonly routes: readonly Route[];
  readonly warnings: readonly string[];
}

export const EMPTY_DESIRED_STATE: DesiredState = { routes: [], warnings: [] };
