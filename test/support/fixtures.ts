/** Shared builders for unit and component tests. */
import { parseNetworkConfig, type NetworkConfig } from '../../src/config/network-config.js';
import type { Lease } from '../../src/lease/lease.js';
import { Cidr, IpAddress } from '../../src/net/ip.js';

export function config(json: Record<string, unknown> = {}): NetworkConfig {
  return parseNetworkConfig(JSON.stringify({ Network: '10.244.0.0/16', Backend: { Type: 'host-gw' }, ...json }));
}

export function lease(subnet: string, publicIP: string, backendType = 'host-gw', extra: Partial<Lease> = {}): Lease {
  return { subnet: Cidr.parse(subnet), attrs: { publicIP: IpAddress.parse(publicIP), backendType }, ...extra };
}

/** A deterministic pseudo-random source (mulberry32). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
