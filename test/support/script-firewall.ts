/** A Firewall double for unit tests: its "kernel" is the nftables script last written per family. */
import type { IpFamily } from '../../src/net/ip.js';
import type { Firewall } from '../../src/traffic/firewall.js';
import { type TrafficSpec, renderNftables } from '../../src/traffic/traffic-rules.js';

export class ScriptFirewall implements Firewall {
  readonly mode = 'nftables' as const;
  readonly scripts = new Map<IpFamily, string>();
  readonly specs = new Map<IpFamily, TrafficSpec>();
  writes = 0;
  async read(family: IpFamily): Promise<string> {
    return this.scripts.get(family) ?? '';
  }
  async write(spec: TrafficSpec): Promise<void> {
    this.writes++;
    this.specs.set(spec.family, spec);
    this.scripts.set(spec.family, renderNftables(spec));
  }
  async remove(family: IpFamily): Promise<void> {
    this.scripts.delete(family);
  }
  async supportsRandomFully(): Promise<boolean> {
    return true;
  }
}
