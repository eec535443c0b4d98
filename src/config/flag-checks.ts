/**
 * Start-up checks of flanneld's address-like flags, pure: each returns the usable value or throws
 * FlannelError('BAD_FLAG') naming the flag and the value, so a typo stops flanneld at once instead of surfacing
 * later as "no etcd endpoint answered" or an unexplained listen error.
 */
import { compileGoRegexp } from './go-regexp.js';
import { IpAddress } from '../net/ip.js';
import { FlannelError, errorMessage } from '../support/errors.js';

function invalid(flag: string, value: string, why: string): FlannelError {
  return new FlannelError('BAD_FLAG', `invalid value ${JSON.stringify(value)} for --${flag}: ${why}`);
}

/**
 * `--etcd-endpoints`: a comma-separated list of http(s) URLs with a host and at most a `/` path. A bare
 * `host:port` is accepted as etcd's Go client accepts it, with https when TLS files are given, else http.
 * Empty elements are skipped; none at all is an error. Returns the normalised URLs.
 */
export function checkEtcdEndpoints(text: string, tls: boolean): string[] {
  const endpoints: string[] = [];
  for (const raw of text.split(',')) {
    const endpoint = raw.trim();
    if (endpoint === '') continue;
    const withScheme = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(endpoint) ? endpoint : `${tls ? 'https' : 'http'}://${endpoint}`;
    let url: URL;
    try {
      url = new URL(withScheme);
    } catch {
      throw invalid('etcd-endpoints', endpoint, 'not a URL (want e.g. https://etcd1:2379)');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw invalid('etcd-endpoints', endpoint, `scheme ${url.protocol.slice(0, -1)} is not supported (want http or https)`);
    if (url.hostname === '') throw invalid('etcd-endpoints', endpoint, 'no host');
    if (url.username !== '' || url.password !== '') throw invalid('etcd-endpoints', endpoint, 'credentials do not belong in the URL (use --etcd-username/--etcd-password)');
    if (url.pathname !== '/' || url.search !== '' || url.hash !== '') throw invalid('etcd-endpoints', endpoint, 'a path, query or fragment is not allowed');
    endpoints.push(`${url.protocol}//${url.host}`);
  }
  if (endpoints.length === 0) throw invalid('etcd-endpoints', text, 'no endpoint given');
  return endpoints;
}

/**
 * `--healthz-ip`: an IP address, '' (every interface, as Go) or a host name (resolved when listening, as Go).
 * Anything that looks like an address (digits and dots, or a colon) must be one.
 */
export function checkListenHost(flag: string, text: string): string {
  if (text === '' || IpAddress.tryParse(text)) return text;
  if (/^[\d.]+$/.test(text) || text.includes(':')) throw invalid(flag, text, 'not an IP address');
  const labels = text.replace(/\.$/, '').split('.');
  const hostname = text.length <= 253 && labels.every((label) => /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(label));
  if (!hostname) throw invalid(flag, text, 'neither an IP address nor a host name');
  return text;
}

/** An optional IP address flag (`--iface-can-reach`, `--public-ip`, `--public-ipv6`) of the given family. */
export function checkOptionalIp(flag: string, text: string, family?: 4 | 6): string {
  if (text === '') return text;
  const ip = IpAddress.tryParse(text);
  if (!ip) throw invalid(flag, text, 'not an IP address');
  if (family !== undefined && ip.family !== family) throw invalid(flag, text, `not an IPv${family} address`);
  return text;
}

/** Every `--iface-regex` compiles with Go's meaning (see go-regexp.ts). */
export function checkIfaceRegexes(patterns: readonly string[]): void {
  for (const pattern of patterns) {
    try {
      compileGoRegexp(pattern);
    } catch (error) {
      throw invalid('iface-regex', pattern, `could not compile the regex: ${errorMessage(error)}`);
    }
  }
}
