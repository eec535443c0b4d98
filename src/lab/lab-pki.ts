/**
 * A throw-away PKI for a lab (openssl, Debian's package): a CA and certificates signed by it, EC P-256, valid
 * two days, written into `dir` as `<name>.crt` / `<name>.key` (`ca.crt`, `ca.key` for the CA).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from './shell.js';

export interface LabCertificate {
  readonly name: string;
  readonly commonName: string;
  readonly usage: 'serverAuth' | 'clientAuth';
  /** subjectAltName entries, e.g. `IP:198.18.0.2`, `DNS:flannel`. */
  readonly altNames: readonly string[];
}

export function makeLabPki(dir: string, caName: string, certificates: readonly LabCertificate[]): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const key = (name: string) => ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(dir, `${name}.key`)];
  run('openssl', ['req', '-x509', ...key('ca'), '-out', join(dir, 'ca.crt'), '-days', '2', '-subj', `/CN=${caName}`]);
  for (const { name, commonName, usage, altNames } of certificates) {
    run('openssl', ['req', ...key(name), '-out', join(dir, `${name}.csr`), '-subj', `/CN=${commonName}`]);
    writeFileSync(join(dir, `${name}.ext`), `${altNames.length > 0 ? `subjectAltName=${altNames.join(',')}\n` : ''}extendedKeyUsage=${usage}\n`);
    run('openssl', ['x509', '-req', '-in', join(dir, `${name}.csr`), '-CA', join(dir, 'ca.crt'), '-CAkey', join(dir, 'ca.key'),
      '-CAcreateserial', '-out', join(dir, `${name}.crt`), '-days', '2', '-extfile', join(dir, `${name}.ext`)]);
  }
}
