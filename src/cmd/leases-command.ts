/** `flannelctl leases`: the subnet leases in etcd. */
import { EtcdRegistry } from '../adapters/etcd/etcd-registry.js';
import { encodeLeaseAttrs, leaseKey } from '../lease/lease.js';
import type { CommandSpec } from './cli.js';
import { stringValue } from './cli-parse.js';

export const leasesCommand: CommandSpec = {
  path: ['leases'],
  summary: 'list the subnet leases in etcd',
  options: {
    'etcd-endpoints': { type: 'string', default: 'http://127.0.0.1:2379', env: 'FLANNELD_ETCD_ENDPOINTS', placeholder: 'URLS', help: 'a comma-delimited list of etcd endpoints' },
    'etcd-prefix': { type: 'string', default: '/coreos.com/network', env: 'FLANNELD_ETCD_PREFIX', placeholder: 'PREFIX', help: 'etcd prefix' },
  },
  async run({ values }) {
    const registry = new EtcdRegistry({ endpoints: stringValue(values, 'etcd-endpoints').split(','), prefix: stringValue(values, 'etcd-prefix') });
    try {
      const listing = await registry.listLeases();
      for (const lease of listing.leases) process.stdout.write(`${leaseKey(lease)}\t${encodeLeaseAttrs(lease.attrs)}\n`);
      for (const bad of listing.malformed) process.stdout.write(`${bad.key}\tMALFORMED: ${bad.reason}\n`);
      return 0;
    } finally {
      await registry.close();
    }
  },
};
