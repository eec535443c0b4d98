/**
 * flanneld's command line: every upstream flag with upstream's default (reference §1.1) plus flannel-ts's own
 * (`--overlay-ingress-filter`, default off), Go `flag` syntax
 * (`-name`, `--name`, `-name=value`, `-name value`, booleans as `--x` or `--x=false`, parsing stops at the first
 * non-flag), integers as Go's ParseInt base 0, and the FLANNELD_* environment mapping (§1.2): a flag not given
 * on the command line takes FLANNELD_<NAME> (upper case, `-` and `.` → `_`) when that is non-empty; repeatable
 * flags take the env value as one element. Pure: argv and env in, options or a typed error out.
 */

/** Where flanneld serves its status socket unless `--status-socket` says otherwise (flannelctl's default too). */
export const DEFAULT_STATUS_SOCKET = '/run/flannel/flanneld.sock';
import { FlannelError } from '../support/errors.js';
import { checkEtcdEndpoints, checkIfaceRegexes, checkListenHost, checkOptionalIp } from './flag-checks.js';

type Kind = 'string' | 'bool' | 'int' | 'list';

interface FlagSpec {
  readonly name: string;
  readonly kind: Kind;
  readonly fallback: string | boolean | number | readonly string[];
  readonly help: string;
}

export const FLAGS: readonly FlagSpec[] = [
  { name: 'etcd-endpoints', kind: 'string', fallback: 'http://127.0.0.1:4001,http://127.0.0.1:2379', help: 'a comma-delimited list of etcd endpoints' },
  { name: 'etcd-prefix', kind: 'string', fallback: '/coreos.com/network', help: 'etcd prefix' },
  { name: 'etcd-keyfile', kind: 'string', fallback: '', help: 'SSL key file used to secure etcd communication' },
  { name: 'etcd-certfile', kind: 'string', fallback: '', help: 'SSL certification file used to secure etcd communication' },
  { name: 'etcd-cafile', kind: 'string', fallback: '', help: 'SSL Certificate Authority file used to secure etcd communication' },
  { name: 'etcd-username', kind: 'string', fallback: '', help: 'username for BasicAuth to etcd' },
  { name: 'etcd-password', kind: 'string', fallback: '', help: 'password for BasicAuth to etcd' },
  { name: 'iface', kind: 'list', fallback: [], help: 'interface to use (IP or name) for inter-host communication. Can be specified multiple times to check each option in order' },
  { name: 'iface-regex', kind: 'list', fallback: [], help: 'regex expression to match the first interface to use (IP or name). Can be specified multiple times' },
  { name: 'iface-can-reach', kind: 'string', fallback: '', help: 'detect interface to use (IP or name) for inter-host communication based on which will be used for provided IP' },
  { name: 'subnet-file', kind: 'string', fallback: '/run/flannel/subnet.env', help: 'filename where env variables (subnet, MTU, ... ) will be written to' },
  { name: 'public-ip', kind: 'string', fallback: '', help: 'IP accessible by other nodes for inter-host communication' },
  { name: 'public-ipv6', kind: 'string', fallback: '', help: 'IPv6 accessible by other nodes for inter-host communication' },
  { name: 'subnet-lease-renew-margin', kind: 'int', fallback: 60, help: 'subnet lease renewal margin, in minutes, ranging from 1 to 1439' },
  { name: 'ip-masq', kind: 'bool', fallback: false, help: 'setup IP masquerade rule for traffic destined outside of overlay network' },
  { name: 'ip-masq-fully-random-disable', kind: 'bool', fallback: false, help: 'disable --random-fully on the masquerade rules' },
  { name: 'kube-subnet-mgr', kind: 'bool', fallback: false, help: 'contact the Kubernetes API for subnet assignment instead of etcd' },
  { name: 'kube-api-url', kind: 'string', fallback: '', help: 'Kubernetes API server URL. Does not need to be specified if flannel is running in a pod' },
  { name: 'kube-annotation-prefix', kind: 'string', fallback: 'flannel.alpha.coreos.com', help: 'Kubernetes annotation prefix. Can contain single slash "/", otherwise it will be appended at the end' },
  { name: 'kubeconfig-file', kind: 'string', fallback: '', help: 'kubeconfig file location. Does not need to be specified if flannel is running in a pod' },
  { name: 'version', kind: 'bool', fallback: false, help: 'print version and exit' },
  { name: 'healthz-ip', kind: 'string', fallback: '0.0.0.0', help: 'the IP address for healthz server to listen' },
  { name: 'healthz-port', kind: 'int', fallback: 0, help: 'the port for healthz server to listen (0 to disable)' },
  { name: 'iptables-resync', kind: 'int', fallback: 5, help: 'resync period for iptables rules, in seconds' },
  { name: 'iptables-forward-rules', kind: 'bool', fallback: true, help: 'add default accept rules to FORWARD chain in iptables' },
  { name: 'ip-blackhole-route', kind: 'bool', fallback: false, help: 'add blackhole route for own subnet' },
  {
    name: 'overlay-ingress-filter', kind: 'bool', fallback: false,
    help: 'flannel-ts only: accept overlay UDP (the vxlan port) only from current peers\' public IPs and drop it from any other host, kept in sync with the leases (iptables mode needs the ipset tool)',
  },
  {
    name: 'status-socket', kind: 'string', fallback: DEFAULT_STATUS_SOCKET,
    help: 'flannel-ts only: unix socket (root only) serving /status, /leases and /metrics to flannelctl status, trace and doctor; empty disables',
  },
  {
    name: 'datapath-probe-interval', kind: 'int', fallback: 30,
    help: 'flannel-ts only: seconds between rounds of overlay probes to a few peers (a log line and flannel_peers_unreachable when peers stop answering); 0 disables',
  },
  { name: 'net-config-path', kind: 'string', fallback: '/etc/kube-flannel/net-conf.json', help: 'path to the network configuration file (Kubernetes mode)' },
  { name: 'set-node-network-unavailable', kind: 'bool', fallback: true, help: 'set NodeNetworkUnavailable after ready (Kubernetes mode)' },
  { name: 'logging-format', kind: 'string', fallback: 'text', help: 'log format: text (klog-style lines) or json (one JSON object per line)' },
  { name: 'v', kind: 'int', fallback: 0, help: 'number for the log level verbosity' },
  { name: 'vmodule', kind: 'string', fallback: '', help: 'comma-separated list of pattern=N settings for file-filtered logging (accepted, ignored)' },
  { name: 'log_backtrace_at', kind: 'string', fallback: '', help: 'when logging hits line file:N, emit a stack trace (accepted, ignored)' },
];

export type FlagValues = Record<string, string | boolean | number | string[]>;

export interface ParsedFlags {
  readonly values: FlagValues;
  /** Flags set on the command line or through FLANNELD_* (not left at their default). */
  readonly given: ReadonlySet<string>;
  readonly help: boolean;
  /** Bad FLANNELD_* values: upstream logs them and carries on. */
  readonly envWarnings: readonly string[];
  /** Arguments from the first non-flag on (upstream ignores them silently; flanneld refuses them). */
  readonly rest: readonly string[];
}

export function envNameOf(flag: string): string {
  return 'FLANNELD_' + flag.toUpperCase().replace(/[-.]/g, '_');
}

/** Throws FlannelError('BAD_FLAG') for unknown flags or bad values on the command line (exit code 2). */
export function parseFlags(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): ParsedFlags {
  const values: FlagValues = {};
  for (const spec of FLAGS) values[spec.name] = Array.isArray(spec.fallback) ? [...spec.fallback] : (spec.fallback as string);
  const onCommandLine = new Set<string>();
  let help = false;
  let rest: readonly string[] = [];
  for (let index = 0; index < argv.length; index++) {
    const argument = argv[index] as string;
    if (argument === '--') {
      rest = argv.slice(index + 1);
      break;
    }
    if (!argument.startsWith('-') || argument === '-') {
      rest = argv.slice(index);
      break;
    }
    const body = argument.replace(/^--?/, '');
    const equals = body.indexOf('=');
    const name = equals < 0 ? body : body.slice(0, equals);
    if (name === 'h' || name === 'help') {
      help = true;
      continue;
    }
    const spec = FLAGS.find((flag) => flag.name === name);
    if (!spec) throw new FlannelError('BAD_FLAG', `flag provided but not defined: -${name}`);
    let text: string;
    if (equals >= 0) text = body.slice(equals + 1);
    else if (spec.kind === 'bool') text = 'true';
    else {
      const next = argv[index + 1];
      if (next === undefined) throw new FlannelError('BAD_FLAG', `flag needs an argument: -${name}`);
      text = next;
      index++;
    }
    setValue(values, spec, text, onCommandLine.has(spec.name), `-${name}`);
    onCommandLine.add(spec.name);
  }
  const given = new Set(onCommandLine);
  const envWarnings: string[] = [];
  for (const spec of FLAGS) {
    if (onCommandLine.has(spec.name) || spec.name === 'version') continue;
    const text = env[envNameOf(spec.name)];
    if (text === undefined || text === '') continue;
    try {
      setValue(values, spec, text, false, envNameOf(spec.name));
      given.add(spec.name);
    } catch (error) {
      envWarnings.push((error as Error).message);
    }
  }
  return { values, given, help, envWarnings, rest };
}

function setValue(values: FlagValues, spec: FlagSpec, text: string, append: boolean, source: string): void {
  const invalid = (why: string) => new FlannelError('BAD_FLAG', `invalid value ${JSON.stringify(text)} for ${source}: ${why}`);
  switch (spec.kind) {
    case 'string':
      values[spec.name] = text;
      return;
    case 'list':
      values[spec.name] = append ? [...(values[spec.name] as string[]), text] : [text];
      return;
    case 'bool': {
      const parsed = parseGoBool(text);
      if (parsed === undefined) throw invalid('parse error (want true or false)');
      values[spec.name] = parsed;
      return;
    }
    case 'int': {
      const parsed = parseGoInt(text);
      if (parsed === undefined) throw invalid('parse error (want an integer)');
      values[spec.name] = parsed;
    }
  }
}

/** Go strconv.ParseBool. */
export function parseGoBool(text: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(text)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(text)) return false;
  return undefined;
}

/** Go strconv.ParseInt(s, 0, 64) within JavaScript's safe integers: 0x, 0o, 0b, leading-0 octal, `_`. */
export function parseGoInt(text: string): number | undefined {
  const match = /^([+-]?)(0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|0[0-7_]*|[1-9][0-9_]*)$/.exec(text);
  if (!match) return undefined;
  const [, sign, digits = ''] = match;
  // Underscores must separate digits (or follow a base prefix): no doubles, none at the end.
  if (/__|_$/.test(digits)) return undefined;
  const clean = digits.replace(/_/g, '');
  let value: number;
  if (/^0[xX]/.test(clean)) value = parseInt(clean.slice(2), 16);
  else if (/^0[oO]/.test(clean)) value = parseInt(clean.slice(2), 8);
  else if (/^0[bB]/.test(clean)) value = parseInt(clean.slice(2), 2);
  else if (clean.length > 1 && clean.startsWith('0')) value = parseInt(clean.slice(1), 8);
  else value = parseInt(clean, 10);
  if (!Number.isSafeInteger(value)) return undefined;
  return sign === '-' ? -value : value;
}

export function usage(program: string): string {
  const lines = [`Usage: ${program} [OPTION]...`];
  for (const spec of FLAGS) {
    const type = spec.kind === 'bool' ? '' : spec.kind === 'int' ? ' int' : ' string';
    const fallback = Array.isArray(spec.fallback) || spec.fallback === '' || spec.fallback === false ? '' : ` (default ${JSON.stringify(spec.fallback)})`;
    lines.push(`  -${spec.name}${type}`, `    \t${spec.help}${fallback}  [env ${envNameOf(spec.name)}]`);
  }
  return lines.join('\n') + '\n';
}

export interface DaemonOptions {
  /** `--kube-subnet-mgr`: leases from Kubernetes Nodes instead of etcd. */
  readonly kubeSubnetMgr: boolean;
  readonly etcdEndpoints: string[];
  readonly etcdPrefix: string;
  readonly etcdKeyfile: string;
  readonly etcdCertfile: string;
  readonly etcdCafile: string;
  readonly etcdUsername: string;
  readonly etcdPassword: string;
  readonly iface: string[];
  readonly ifaceRegex: string[];
  readonly ifaceCanReach: string;
  readonly subnetFile: string;
  readonly publicIP: string;
  readonly publicIPv6: string;
  readonly subnetLeaseRenewMarginMinutes: number;
  readonly ipMasq: boolean;
  readonly ipMasqFullyRandomDisable: boolean;
  readonly ipBlackholeRoute: boolean;
  readonly healthzIP: string;
  readonly healthzPort: number;
  readonly iptablesResyncSeconds: number;
  readonly iptablesForwardRules: boolean;
  readonly overlayIngressFilter: boolean;
  /** `--status-socket`; '' when disabled. */
  readonly statusSocket: string;
  /** `--datapath-probe-interval` in seconds; 0 when disabled. */
  readonly datapathProbeIntervalSeconds: number;
  readonly verbosity: number;
  readonly loggingFormat: 'text' | 'json';
}

/**
 * Typed options, or FlannelError BAD_FLAG for a bad value: renew margin out of range, an etcd endpoint that is
 * not an http(s) URL, a --healthz-ip that is no address, an --iface-regex that is not valid Go, an address flag
 * that is no IP. `warnings` lists default-on features that are not built yet. The Kubernetes-mode flags are read
 * by kube-options.ts from the same values (with the environment variables upstream reads besides).
 */
export function toDaemonOptions(parsed: ParsedFlags): { options: DaemonOptions; warnings: string[] } {
  const values = parsed.values;
  const text = (name: string) => values[name] as string;
  const number = (name: string) => values[name] as number;
  const margin = number('subnet-lease-renew-margin');
  if (margin >= 1440 || margin <= 0) {
    throw new FlannelError('BAD_FLAG', `Invalid subnet-lease-renew-margin option, out of acceptable range: ${margin} (want 1..1439 minutes)`);
  }
  const port = number('healthz-port');
  if (port < 0 || port > 65535) throw new FlannelError('BAD_FLAG', `invalid --healthz-port ${port}: want 0..65535`);
  const warnings: string[] = [];
  const resync = number('iptables-resync');
  if (resync <= 0) throw new FlannelError('BAD_FLAG', `invalid --iptables-resync ${resync}: want a positive number of seconds`);
  const loggingFormat = text('logging-format');
  if (loggingFormat !== 'text' && loggingFormat !== 'json') throw new FlannelError('BAD_FLAG', `invalid --logging-format ${JSON.stringify(loggingFormat)}: want text or json`);
  const tls = [text('etcd-cafile'), text('etcd-certfile'), text('etcd-keyfile')].some((file) => file !== '');
  const etcdEndpoints = checkEtcdEndpoints(text('etcd-endpoints'), tls);
  // The address is used only when the server runs (upstream ignores it otherwise, so do we).
  if (port > 0) checkListenHost('healthz-ip', text('healthz-ip'));
  const statusSocket = text('status-socket');
  // sun_path holds 108 bytes with the terminating NUL; a relative path would depend on the working directory.
  if (statusSocket !== '' && (!statusSocket.startsWith('/') || Buffer.byteLength(statusSocket) > 107)) {
    throw new FlannelError('BAD_FLAG', `invalid --status-socket ${JSON.stringify(statusSocket)}: want an absolute path of at most 107 bytes, or empty to disable`);
  }
  const probeInterval = number('datapath-probe-interval');
  if (probeInterval < 0) throw new FlannelError('BAD_FLAG', `invalid --datapath-probe-interval ${probeInterval}: want seconds ≥ 0 (0 disables)`);
  checkIfaceRegexes(values['iface-regex'] as string[]);
  checkOptionalIp('iface-can-reach', text('iface-can-reach'));
  checkOptionalIp('public-ip', text('public-ip'), 4);
  checkOptionalIp('public-ipv6', text('public-ipv6'), 6);
  return {
    options: {
      kubeSubnetMgr: values['kube-subnet-mgr'] === true,
      etcdEndpoints,
      etcdPrefix: text('etcd-prefix'),
      etcdKeyfile: text('etcd-keyfile'),
      etcdCertfile: text('etcd-certfile'),
      etcdCafile: text('etcd-cafile'),
      etcdUsername: text('etcd-username'),
      etcdPassword: text('etcd-password'),
      iface: values.iface as string[],
      ifaceRegex: values['iface-regex'] as string[],
      ifaceCanReach: text('iface-can-reach'),
      subnetFile: text('subnet-file'),
      publicIP: text('public-ip'),
      publicIPv6: text('public-ipv6'),
      subnetLeaseRenewMarginMinutes: margin,
      ipMasq: values['ip-masq'] === true,
      ipMasqFullyRandomDisable: values['ip-masq-fully-random-disable'] === true,
      ipBlackholeRoute: values['ip-blackhole-route'] === true,
      healthzIP: text('healthz-ip'),
      healthzPort: port,
      iptablesResyncSeconds: resync,
      iptablesForwardRules: values['iptables-forward-rules'] === true,
      overlayIngressFilter: values['overlay-ingress-filter'] === true,
      statusSocket,
      datapathProbeIntervalSeconds: probeInterval,
      verbosity: number('v'),
      loggingFormat,
    },
    warnings,
  };
}
