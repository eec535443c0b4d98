/**
 * The VTEP MAC of a flannel device: the existing device's when it is compatible (so a restart changes nothing
 * peers know), else derived from the public IP and VNI — locally administered, unicast, the same on every start
 * and after a reboot, so peers' neighbour entries stay right even when the device had to be recreated
 * (upstream draws a random one, and raced systemd-networkd's MACAddressPolicy over it, flannel#1155).
 * Pure (hashing is not I/O).
 */
import { createHash } from 'node:crypto';
import type { Link } from '../../dataplane/kernel-objects.js';
import type { IpAddress } from '../../net/ip.js';
import { MacAddress } from '../../net/mac.js';

export function derivedVtepMac(publicIP: IpAddress, vni: number): MacAddress {
  const digest = createHash('sha256').update(`flannel-ts vtep ${publicIP} vni ${vni}`).digest();
  return MacAddress.random(() => digest.subarray(0, 6));
}

export function vtepMac(existing: Link | undefined, compatible: boolean, publicIP: IpAddress, vni: number): MacAddress {
  return compatible && existing?.mac ? existing.mac : derivedVtepMac(publicIP, vni);
}
