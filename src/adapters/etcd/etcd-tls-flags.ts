/**
 * flanneld's etcd TLS flags (--etcd-cafile, --etcd-certfile, --etcd-keyfile) turned into the client's TLS
 * options, checked up front.
 *
 * - The endpoint's scheme decides, as in etcd's own client: https:// is TLS (etcd's certificate checked against
 *   --etcd-cafile, or the system's CAs without it), http:// is plain.
 * - --etcd-cafile alone is TLS without a client certificate (upstream ignores it unless a certificate and key
 *   are given too, then warns "connecting with http" even to an https:// endpoint).
 * - --etcd-certfile and --etcd-keyfile come together: one without the other is an error naming both (upstream
 *   silently drops the one given).
 * - The insecure-connection warning names the http:// endpoints, and only when there are some.
 */
import { FlannelError, errorMessage } from '../../support/errors.js';
import type { EtcdTlsOptions } from './etcd-connections.js';

export interface EtcdTlsFlags {
  readonly endpoints: readonly string[];
  readonly cafile: string;
  readonly certfile: string;
  readonly keyfile: string;
}

export interface EtcdTlsSettings {
  /** Undefined when no TLS file was given (https:// endpoints then trust the system's CAs). */
  readonly tls?: EtcdTlsOptions;
  /** Warnings for the log, each with its fields. */
  readonly warnings: ReadonlyArray<{ readonly message: string; readonly fields: Record<string, unknown> }>;
}

/** Throws FlannelError('BAD_FLAG') naming the flag for a lone certificate or key, or a file that cannot be read. */
export function etcdTlsFromFlags(flags: EtcdTlsFlags, readFile: (path: string) => Buffer): EtcdTlsSettings {
  if ((flags.certfile === '') !== (flags.keyfile === '')) {
    const given = flags.certfile ? `--etcd-certfile=${flags.certfile}` : `--etcd-keyfile=${flags.keyfile}`;
    throw new FlannelError('BAD_FLAG', `--etcd-certfile and --etcd-keyfile must be given together (got ${given} without ${flags.certfile ? '--etcd-keyfile' : '--etcd-certfile'})`);
  }
  const read = (path: string, flag: string) => {
    try {
      return readFile(path);
    } catch (error) {
      throw new FlannelError('BAD_FLAG', `${flag}: cannot read ${path}: ${errorMessage(error)}`);
    }
  };
  const tls: EtcdTlsOptions = {
    ...(flags.cafile ? { ca: read(flags.cafile, '--etcd-cafile') } : {}),
    ...(flags.certfile ? { cert: read(flags.certfile, '--etcd-certfile'), key: read(flags.keyfile, '--etcd-keyfile') } : {}),
  };
  const plain = flags.endpoints.map((endpoint) => endpoint.trim()).filter((endpoint) => /^http:\/\//i.test(endpoint));
  const warnings: Array<{ message: string; fields: Record<string, unknown> }> = [];
  if (plain.length > 0) {
    warnings.push({ message: 'connecting to etcd with http. This is insecure', fields: { endpoints: plain } });
    if (Object.keys(tls).length > 0 && plain.length === flags.endpoints.length) {
      warnings.push({ message: 'etcd TLS files given but every endpoint is http://: they are not used (use https:// endpoints)', fields: { endpoints: plain } });
    }
  }
  return { ...(Object.keys(tls).length > 0 ? { tls } : {}), warnings };
}
