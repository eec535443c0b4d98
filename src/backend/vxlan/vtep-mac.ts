/**
 * The VTEP MAC of a flannel device, first of:
 * 1. the existing device's, when it is compatible (a restart changes nothing peers know);
 * 2. the MAC this host published before (Kubernetes mode: our Node's backend-data annotation, upstream's
 *    GetStoredMacAddresses), so a device recreated after a reboot or a deletion keeps the MAC that peers'
 *    neighbour entries still hold;
 * 3. derived from the public IP and VNI — locally administered, unicast, the same on every start — so that even
 *    without a stored one, peers' entries stay right (upstream draws a random one, and raced systemd-networkd's
 *    MACAddressPolicy over it, flannel#1155).
 * A stored MAC that is not usable as a device address (multicast, all zero) is passed over. Pure (hashing is not I/O).
 */
import { createHash } from 'node:crypto';
import type { Link } from '../../dataplane/kernel-objects.js';
import type { IpAddress } from '../../net/ip.js';
import { MacAddress } from '../../net/mac.js';

export function derivedVtepMac(publicIP: IpAddress, vni: number): MacAddress {
  const digest = createHash('sha256').update(`flannel-ts vtep ${publicIP} vni ${vni}`).digest();
  return MacAddress.random(() => digest.subarray(0, 6));
}

export function vtepMac(existing: Link | undefined, compatible: boolean, stored: MacAddress | undefined, publicIP: IpAddress, vni: number): MacAddress {
  if (compatible && existing?.mac) return existing.mac;
  if (stored && isUnicast(stored)) return stored;
  return derivedVtepMac(publicIP, vni);
}

/** The kernel refuses a multicast or all-zero address for a device. */
function isUnicast(mac: MacAddress): boolean {
  const bytes = mac.toBytes();
  return ((bytes[0] ?? 0) & 1) === 0 && bytes.some((byte) => byte !== 0);
}
