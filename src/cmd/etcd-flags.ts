/**
 * flanneld's etcd connection flags for other commands (`flannelctl leases`): the same names, help, defaults and
 * FLANNELD_* variables, taken from flanneld's own flag table (daemon-options.ts), the same endpoint checks
 * (flag-checks.ts) and the same TLS handling (etcd-tls-flags.ts). flanneld opens its registry here too.
 */
import { readFileSync } from 'node:fs';
import { EtcdRegistry } from '../adapters/etcd/etcd-registry.js';
import { etcdTlsFromFlags } from '../adapters/etcd/etcd-tls-flags.js';
import { FLAGS, envNameOf } from '../config/daemon-options.js';
import { checkEtcdEndpoints } from '../config/flag-checks.js';
import type { FlannelMetrics } from '../metrics/flannel-metrics.js';
import { FlannelError } from '../support/errors.js';
import { type OptionSpec, type OptionSpecs, type OptionValue, UsageError, stringValue } from './cli-parse.js';

const PLACEHOLDERS: Readonly<Record<string, string>> = {
  'etcd-endpoints': 'URLS', 'etcd-prefix': 'PREFIX', 'etcd-keyfile': 'FILE', 'etcd-certfile': 'FILE', 'etcd-cafile': 'FILE',
  'etcd-username': 'NAME', 'etcd-password': 'PASSWORD',
};

/** `--etcd-endpoints`, `--etcd-prefix`, the TLS files and the user, as flanneld has them. */
export const ETCD_OPTIONS: OptionSpecs = Object.fromEntries(Object.entries(PLACEHOLDERS).map(([name, placeholder]) => {
  const flag = FLAGS.find((candidate) => candidate.name === name);
  if (!flag) throw new Error(`flanneld has no flag --${name}`);
  const fallback = String(flag.fallback);
  const spec: OptionSpec = { type: 'string', placeholder, help: flag.help, env: envNameOf(name), ...(fallback === '' ? {} : { default: fallback }) };
  return [name, spec];
}));

/**
 * flanneld's other flags, accepted and ignored: `flannelctl leases $FLANNEL_OPTIONS` works with the options
 * line of /etc/sysconfig/flanneld, which mixes etcd flags with --iface, --ip-masq and the like.
 */
export const OTHER_FLANNELD_OPTIONS: OptionSpecs = Object.fromEntries(FLAGS
  .filter((flag) => !Object.hasOwn(PLACEHOLDERS, flag.name) && flag.name !== 'version' && flag.name.length > 1)
  .map((flag): [string, OptionSpec] => [flag.name, { type: flag.kind === 'bool' ? 'boolean' : 'string', help: flag.help, ignored: true, ...(flag.kind === 'list' ? { multiple: true } : {}) }]));

/** Where and how to reach etcd. */
export interface EtcdSettings {
  readonly endpoints: readonly string[];
  readonly prefix: string;
  readonly cafile: string;
  readonly certfile: string;
  readonly keyfile: string;
  readonly username: string;
  readonly password: string;
}

/** The settings from parsed ETCD_OPTIONS; a bad endpoint is a UsageError naming it. */
export function etcdSettingsFrom(values: Readonly<Record<string, OptionValue>>): EtcdSettings {
  const text = (name: string) => (values[name] === undefined ? '' : stringValue(values, name));
  const files = { cafile: text('etcd-cafile'), certfile: text('etcd-certfile'), keyfile: text('etcd-keyfile') };
  let endpoints: string[];
  try {
    endpoints = checkEtcdEndpoints(text('etcd-endpoints'), Object.values(files).some((file) => file !== ''));
  } catch (error) {
    if (error instanceof FlannelError) throw new UsageError(error.message);
    throw error;
  }
  return { endpoints, prefix: text('etcd-prefix'), ...files, username: text('etcd-username'), password: text('etcd-password') };
}

/**
 * An EtcdRegistry for these settings. TLS files are read now: a missing or lone one is FlannelError('BAD_FLAG')
 * naming the flag and the path. `warn` gets the insecure-connection warnings.
 */
export function openEtcdRegistry(
  settings: EtcdSettings,
  warn: (message: string, fields: Record<string, unknown>) => void,
  metrics?: FlannelMetrics['registry'],
): EtcdRegistry {
  const { tls, warnings } = etcdTlsFromFlags(
    { endpoints: settings.endpoints, cafile: settings.cafile, certfile: settings.certfile, keyfile: settings.keyfile },
    (path) => readFileSync(path),
  );
  for (const warning of warnings) warn(warning.message, warning.fields);
  return new EtcdRegistry({
    endpoints: settings.endpoints,
    prefix: settings.prefix,
    ...(tls ? { tls } : {}),
    ...(settings.username ? { username: settings.username, password: settings.password } : {}),
    ...(metrics ? { metrics } : {}),
  });
}
