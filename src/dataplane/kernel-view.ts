/**
 * The reconciler's view of the kernel: one DeltaTracker per kind of object (devices, addresses, neighbours/FDB
 * entries, routes), the rules that key and compare them, and the ownership that decides what may be deleted.
 * Pure: fed by full listings and by notifications, never reads the kernel itself.
 *
 * Devices and addresses are few: the view keeps every link and every address (device ownership depends on a
 * link's addresses), and feeds the trackers from them. Neighbours and routes are many: their trackers keep only
 * what is ours or desired.
 *
 * A link is *owned* when the plan names it (and it exists) or when it is an unwanted device of ours (see
 * ownership.ts). Neighbour and address ownership follow the owned links; when that set changes, the caller
 * re-lists neighbours (`ownedLinksChanged`), since the trackers did not keep entries of links they did not own.
 */
import { DeltaTracker, type DesiredSource, type TrackerRules } from './delta-tracker.js';
import type { DesiredIndex } from './desired-index.js';
import { type Device, deviceSatisfied } from './devices.js';
import {
  type Address, type Link, NUD_PERMANENT, type Neighbour, type Route, neighbourKey, neighbourSatisfies, routeKey, routeSatisfies,
} from './kernel-objects.js';
import type { KernelEvent } from './kernel.js';
import { type Ownership, ownsRoute, ownsUnwantedDevice } from './ownership.js';

/** A desired address, resolved to its device's index. */
export interface ResolvedAddress {
  readonly linkIndex: number;
  readonly address: Address['address'];
}

/** What a notification asks of the reconciler. */
export type ObserveEffect = 'nothing' | 'wake' | 'resync';

const EMPTY: DesiredSource<never> = { get: () => undefined, keys: () => [], size: 0 };

export const addressKey = (entry: { linkIndex: number; address: Address['address'] }): string => `${entry.linkIndex}|${entry.address}`;

export class KernelView {
  readonly devices: DeltaTracker<Device, Link>;
  readonly addresses: DeltaTracker<ResolvedAddress, Address>;
  readonly neighbours: DeltaTracker<Neighbour, Neighbour>;
  readonly routes: DeltaTracker<Route, Route>;
  /** Every link, by index. */
  private readonly links = new Map<number, Link>();
  /** Every address, by addressKey. */
  private readonly allAddresses = new Map<string, Address>();
  private desiredDevices = new Map<string, Device>();
  /** Names of every device a plan of this reconciler named: ours even once no address says so. */
  private readonly managed = new Set<string>();
  private owned = new Set<number>();

  constructor(private readonly ownership: Ownership) {
    const linkRules: TrackerRules<Device, Link> = {
      keyOf: (entry) => entry.name,
      satisfies: (link, device) => deviceSatisfied(link, device),
      ours: (link) => ownsUnwantedDevice(ownership, link, this.addressesOf(link.index), this.managed.has(link.name)),
    };
    const addressRules: TrackerRules<ResolvedAddress, Address> = {
      keyOf: addressKey,
      satisfies: () => true,
      ours: (entry) => this.owned.has(entry.linkIndex) && !entry.address.ip.isLinkLocal(),
    };
    const neighbourRules: TrackerRules<Neighbour, Neighbour> = {
      keyOf: neighbourKey,
      satisfies: neighbourSatisfies,
      ours: (entry) => entry.linkIndex !== undefined && this.owned.has(entry.linkIndex) && (entry.state & NUD_PERMANENT) !== 0,
    };
    const routeRules: TrackerRules<Route, Route> = { keyOf: routeKey, satisfies: routeSatisfies, ours: (route) => this.ownsRoute(route) };
    this.devices = new DeltaTracker(linkRules, this.desiredDevices);
    this.addresses = new DeltaTracker(addressRules, EMPTY);
    this.neighbours = new DeltaTracker(neighbourRules, EMPTY);
    this.routes = new DeltaTracker(routeRules, EMPTY);
  }

  setDesiredDevices(devices: readonly Device[]): void {
    this.desiredDevices = new Map(devices.map((device) => [device.name, device]));
    for (const device of devices) this.managed.add(device.name);
    this.devices.replaceDesired(this.desiredDevices);
  }

  setDesiredAddresses(entries: readonly ResolvedAddress[]): void {
    this.addresses.replaceDesired(new Map(entries.map((entry) => [addressKey(entry), entry])));
  }

  /** Routes and neighbours of a (re)built index: everything is recomputed. */
  setDesiredEntries(index: DesiredIndex): void {
    this.routes.replaceDesired(index.routeSource);
    this.neighbours.replaceDesired(index.neighbourSource);
  }

  /**
   * A full listing of links and addresses. Routes and neighbours on links that no longer exist are forgotten
   * (the kernel removed them with the link). Returns true when the owned links changed (re-list neighbours).
   */
  replaceLinks(links: readonly Link[], addresses: readonly Address[]): boolean {
    const gone = new Set([...this.links.keys()].filter((index) => !links.some((link) => link.index === index)));
    this.links.clear();
    for (const link of links) this.links.set(link.index, link);
    this.allAddresses.clear();
    for (const address of addresses) this.allAddresses.set(addressKey(address), address);
    this.devices.replaceObserved(links);
    if (gone.size > 0) this.forgetLinks(gone);
    return this.ownedLinksChanged();
  }

  /** Forgets the routes and neighbours on these links (deleted); returns how many of the routes were ours. */
  forgetLinks(indexes: ReadonlySet<number>): number {
    const on = (entry: { linkIndex?: number }) => entry.linkIndex !== undefined && indexes.has(entry.linkIndex);
    this.neighbours.forget(on);
    return this.routes.forget(on).filter((route) => this.ownsRoute(route)).length;
  }

  private ownsRoute(route: Route): boolean {
    return ownsRoute(this.ownership, route, route.linkIndex !== undefined && this.owned.has(route.linkIndex));
  }

  /** Work the trackers hold (devices waited for included). */
  pendingCount(): number {
    return this.devices.pendingCount + this.addresses.pendingCount + this.neighbours.pendingCount + this.routes.pendingCount;
  }

  replaceNeighbours(entries: readonly Neighbour[]): void {
    this.neighbours.replaceObserved(entries);
  }

  replaceRoutes(routes: readonly Route[]): void {
    this.routes.replaceObserved(routes);
  }

  /** The index of the link named `name`, if it exists. */
  linkIndex(name: string): number | undefined {
    return this.devices.get(name)?.index ?? [...this.links.values()].find((link) => link.name === name)?.index;
  }

  ownsLink(index: number): boolean {
    return this.owned.has(index);
  }

  /** Recomputes the owned links; true when they changed (the caller re-lists neighbours). */
  ownedLinksChanged(): boolean {
    const next = new Set<number>();
    const unwanted = new Set(this.devices.pendingDeletes().map(([name]) => name));
    for (const link of this.devices.values()) {
      if (this.desiredDevices.has(link.name) || unwanted.has(link.name)) next.add(link.index);
    }
    if (next.size === this.owned.size && [...next].every((index) => this.owned.has(index))) return false;
    this.owned = next;
    this.addresses.replaceObserved(this.allAddresses.values());
    this.neighbours.refreshAll();
    return true;
  }

  /**
   * Applies one notification. 'resync' when the view cannot follow from the notification alone: a foreign route
   * reported where ours stands, or the kernel will have removed objects without saying so (one of our
   * devices went away, down, or came back with another index); 'wake' when there is work; else 'nothing'.
   */
  observe(event: Exclude<KernelEvent, { kind: 'overflow' }>): ObserveEffect {
    switch (event.kind) {
      case 'route': {
        const key = routeKey(event.route);
        if (event.deleted) {
          const current = this.routes.get(key);
          // Another route may hold the key by the time we hear of a deletion; only forget the one deleted.
          if (!current || !sameRoute(current, event.route)) return 'nothing';
        } else {
          // Someone else's route where ours stands: news (it replaced ours) or a late report of what our own
          // later write already replaced — the notification cannot say which, and believing a stale one would
          // leave our route behind when its peer goes. Only the kernel can tell: re-read.
          const current = this.routes.get(key);
          if (current && this.ownsRoute(current) && !this.ownsRoute(event.route)) return 'resync';
        }
        this.routes.observe(key, event.deleted ? undefined : event.route);
        return this.routes.pendingCount > 0 ? 'wake' : 'nothing';
      }
      case 'neighbour':
        this.neighbours.observe(neighbourKey(event.entry), event.deleted ? undefined : event.entry);
        return this.neighbours.pendingCount > 0 ? 'wake' : 'nothing';
      case 'address': {
        const key = addressKey(event.address);
        if (event.deleted) this.allAddresses.delete(key);
        else this.allAddresses.set(key, event.address);
        this.addresses.observe(key, event.deleted ? undefined : event.address);
        // A device's addresses decide whether an unwanted flannel device is ours.
        const link = this.links.get(event.address.linkIndex);
        if (link) this.devices.observe(link.name, link);
        if (this.ownedLinksChanged()) return 'resync';
        return this.addresses.pendingCount + this.devices.pendingCount > 0 ? 'wake' : 'nothing';
      }
      case 'link':
        return this.observeLink(event.link, event.deleted);
    }
  }

  private observeLink(link: Link, deleted: boolean): ObserveEffect {
    const before = this.links.get(link.index);
    const previousByName = this.devices.get(link.name);
    const concerned = this.owned.has(link.index) || this.desiredDevices.has(link.name);
    if (deleted) {
      this.links.delete(link.index);
      if (this.devices.get(link.name)?.index === link.index) this.devices.observe(link.name, undefined);
    } else {
      this.links.set(link.index, link);
      if (before && before.name !== link.name && this.devices.get(before.name)?.index === link.index) this.devices.observe(before.name, undefined);
      this.devices.observe(link.name, link);
    }
    if (!concerned) return 'nothing';
    const wentDown = before?.up === true && !link.up;
    const newIndex = previousByName !== undefined && previousByName.index !== link.index;
    if (deleted || wentDown || newIndex) return 'resync';
    // A device that appeared (a data path's) needs its entries resolved; an echo of our own update needs nothing.
    return previousByName === undefined || this.devices.pendingCount > 0 ? 'wake' : 'nothing';
  }

  private addressesOf(index: number): Address['address'][] {
    const found: Address['address'][] = [];
    for (const address of this.allAddresses.values()) if (address.linkIndex === index) found.push(address.address);
    return found;
  }
}

function sameRoute(a: Route, b: Route): boolean {
  return a.protocol === b.protocol && a.linkIndex === b.linkIndex && a.type === b.type && (a.gateway ? a.gateway.equals(b.gateway) : b.gateway === undefined);
}
