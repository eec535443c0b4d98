/**
 * `flannelctl leases [etcd flags] [--json]`: the subnet leases in etcd, each with its host (public IPs, backend)
 * and when it expires, and every malformed entry with the reason. Takes flanneld's etcd flags and FLANNELD_*
 * variables (etcd-flags.ts), so the line from /etc/sysconfig/flanneld works here too. Exit 0 listed, 1 etcd
 * could not be read (one line saying why), 2 bad usage.
 */
import { type LeaseListingDocument, leaseListingDocument, renderLeaseListingText } from '../ops/lease-listing.js';
import type { CommandSpec } from './cli.js';
import { booleanValue } from './cli-parse.js';
import { JSON_OPTION } from './common-options.js';
import { ETCD_OPTIONS, OTHER_FLANNELD_OPTIONS, etcdSettingsFrom, openEtcdRegistry } from './etcd-flags.js';

export const leasesCommand: CommandSpec = {
  path: ['leases'],
  summary: 'the subnet leases in etcd: subnet, public IPs, backend, expiry; malformed entries with the reason',
  options: { ...ETCD_OPTIONS, json: JSON_OPTION, ...OTHER_FLANNELD_OPTIONS },
  details: "The etcd options are flanneld's, with its FLANNELD_* variables, in either spelling (-etcd-prefix=… or --etcd-prefix …). "
    + "flanneld's other flags are accepted and ignored, so its command line can be passed as it is:\n"
    + '  flannelctl leases --etcd-endpoints="$FLANNEL_ETCD_ENDPOINTS" --etcd-prefix="$FLANNEL_ETCD_PREFIX" $FLANNEL_OPTIONS',
  validate: ({ values }) => void etcdSettingsFrom(values),
  async run({ values }) {
    const registry = openEtcdRegistry(etcdSettingsFrom(values), (message, fields) => {
      process.stderr.write(`flannelctl leases: warning: ${message}${Object.keys(fields).length > 0 ? ` ${JSON.stringify(fields)}` : ''}\n`);
    });
    let document: LeaseListingDocument;
    try {
      const listing = await registry.listLeasesWithExpiry();
      document = leaseListingDocument(listing, listing.expiry, Date.now());
    } finally {
      await registry.close();
    }
    process.stdout.write(booleanValue(values, 'json') ? JSON.stringify(document, null, 2) + '\n' : renderLeaseListingText(document));
    return 0;
  },
};
