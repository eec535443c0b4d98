/**
 * Where `flannelctl trace` gets the lease table: flanneld's status socket; when flanneld does not answer
 * (stopped, crashed — exactly when an operator traces a path it no longer repairs) and the store was named
 * (`--etcd-endpoints`), the store itself, our own lease found by subnet.env's FLANNEL_SUBNET. Records the
 * socket could not decode are reported on stderr and left out.
 */
import { getJsonFromStatusSocket } from '../adapters/http/status-client.js';
import type { Cidr } from '../net/ip.js';
import { decodeLeaseTable, leaseTableFromStore } from '../ops/lease-records.js';
import type { LeaseTable } from '../ops/status-document.js';
import type { Registry } from '../subnet/registry.js';
import { FlannelError } from '../support/errors.js';

export interface TraceLeaseSources {
  readonly socket: string;
  /** Opens the store, when one was named (absent: the socket only). */
  readonly openStore?: () => Registry;
  /** This host's subnet (subnet.env's FLANNEL_SUBNET), to tell our lease from the peers'. */
  readonly ownSubnet: () => Cidr | undefined;
  readonly warn: (line: string) => void;
}

export async function traceLeaseTable(sources: TraceLeaseSources): Promise<LeaseTable> {
  try {
    const { table, problems } = decodeLeaseTable(await getJsonFromStatusSocket(sources.socket, '/leases'));
    for (const problem of problems) sources.warn(`ignored: ${problem}`);
    return table;
  } catch (error) {
    if (!sources.openStore || !(error instanceof FlannelError) || error.code !== 'STATUS_UNREACHABLE') throw error;
    sources.warn(`${error.message}; reading the leases from the store instead`);
    const store = sources.openStore();
    try {
      const listing = await store.listLeases();
      for (const entry of listing.malformed) sources.warn(`ignored: ${entry.key}: ${entry.reason}`);
      return leaseTableFromStore(listing.leases, sources.ownSubnet());
    } finally {
      await store.close();
    }
  }
}
