/**
 * The ipip backend (reference §5.4): IpipPlanner's device `flannel.ipip` (local = the interface address, any
 * remote, MTU − 20), our /32 on it and one `via <peer public ip> onlink` route per peer, created and repaired
 * by the reconciler through our netlink layer. Its data path is the kernel's alone.
 *
 * As upstream, an existing `flannel.ipip` that is not an ipip device is someone else's: flanneld refuses to
 * start ("… isn't an ipip mode device, please remove device and try again") instead of deleting it. An ipip
 * device with another local address or a fixed remote is re-created (the reconciler's identity rule).
 */
import { FlannelError, ValidationError } from '../../support/errors.js';
import type { Backend, BackendContext } from '../backend.js';
import { IPIP, IPIP_DEVICE, checkIpipConfig, parseIpipOptions } from './ipip-options.js';
import { IpipPlanner } from './ipip-planner.js';

export function createIpipBackend({ config, externalInterface: ext, links = [] }: BackendContext): Backend {
  const problems = checkIpipConfig(config, { name: ext.name, mtu: ext.mtu });
  if (problems.length > 0) throw new ValidationError(problems, 'ipip backend config');
  const existing = links.find((link) => link.name === IPIP_DEVICE);
  if (existing && existing.kind !== 'ipip') {
    throw new FlannelError('BACKEND_CONFIG', `${IPIP_DEVICE} isn't an ipip mode device, please remove device and try again (it is ${existing.kind ? `a ${existing.kind} device` : 'a device without a link kind'})`);
  }
  const options = parseIpipOptions(config.backend);
  const planner = new IpipPlanner({ externalInterface: ext, options });
  return {
    type: IPIP,
    mtu: planner.mtu,
    leaseAttrs: planner.leaseAttrs,
    devices: [planner.device],
    options,
    plan: (own, peers) => planner.plan(own, peers),
    checkPeer: (peer) => planner.checkPeer(peer),
  };
}
