/**
 * What the health server answers to one request, pure: upstream registers its handlers on Go's ServeMux, so a
 * request target is treated the way Go's server and mux treat it (observed against upstream's binary):
 * - origin form `/path?query` or absolute form `http://host/path`; `*` and anything else → 400;
 * - the path is percent-decoded (a bad escape such as `%zz` → 400 "400 Bad Request");
 * - a path that is not clean (`//x`, `/./healthz`, `/a/../b`) → 301 to the cleaned path, query kept;
 * - `/healthz` → 200 "flanneld is running", `/readyz` → 200 "flanneld is ready" or 503 "flanneld is not ready
 *   yet", anything else → 404 "404 page not found\n". Any method.
 * - `routes` adds exact paths of ours (`/metrics`), matched after the same cleaning; each renders its page when
 *   asked (a throw there is the server's 500, not a crash).
 * Nothing here throws on a request target: every string is an answer.
 */
import { PROMETHEUS_CONTENT_TYPE } from '../../metrics/prometheus-text.js';

export interface HealthAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

const PLAIN = 'text/plain; charset=utf-8';

/** Extra pages by exact path: each returns a Prometheus text page. */
export type ExtraRoutes = Readonly<Record<string, () => string>>;

export function healthAnswer(method: string, target: string, ready: boolean, routes?: ExtraRoutes): HealthAnswer {
  const parsed = splitTarget(target);
  if (parsed === undefined) return badRequest(target === '*' ? '' : '400 Bad Request');
  const path = percentDecode(parsed.rawPath);
  if (path === undefined) return badRequest('400 Bad Request');
  const clean = cleanPath(path);
  if (clean !== path) return redirect(method, escapePath(clean) + (parsed.query === undefined ? '' : `?${parsed.query}`));
  if (path === '/healthz') return plain(200, 'flanneld is running');
  if (path === '/readyz') return ready ? plain(200, 'flanneld is ready') : plain(503, 'flanneld is not ready yet');
  const page = routes && Object.hasOwn(routes, path) ? routes[path] : undefined;
  if (page) return { status: 200, headers: { 'Content-Type': PROMETHEUS_CONTENT_TYPE }, body: page() };
  return { status: 404, headers: { 'Content-Type': PLAIN, 'X-Content-Type-Options': 'nosniff' }, body: '404 page not found\n' };
}

/** The raw path and query of a request target; undefined when Go's server would refuse it (400). */
function splitTarget(target: string): { rawPath: string; query?: string } | undefined {
  let rest: string;
  if (target.startsWith('/')) {
    rest = target;
  } else {
    const absolute = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/([^/?]*)(.*)$/s.exec(target);
    if (!absolute || !validAuthority(absolute[1] as string)) return undefined;
    rest = absolute[2] as string;
  }
  const question = rest.indexOf('?');
  return question < 0 ? { rawPath: rest } : { rawPath: rest.slice(0, question), query: rest.slice(question + 1) };
}

/** `host`, `host:port`, `[v6]:port`, optionally with `user@`; brackets must pair, the port must be digits. */
function validAuthority(authority: string): boolean {
  const hostPort = authority.slice(authority.lastIndexOf('@') + 1);
  const match = /^(\[[0-9A-Fa-f:.]+\]|[^[\]:]*)(?::(\d*))?$/.exec(hostPort);
  return match !== null && (match[2] === undefined || match[2] === '' || Number(match[2]) <= 65535);
}

/** Percent-decoding of a path as Go's url.PathUnescape; a malformed escape gives undefined. Bytes map 1:1 (latin1). */
function percentDecode(raw: string): string | undefined {
  if (!raw.includes('%')) return raw;
  let out = '';
  for (let index = 0; index < raw.length; index++) {
    const char = raw[index] as string;
    if (char !== '%') {
      out += char;
      continue;
    }
    const hex = raw.slice(index + 1, index + 3);
    if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return undefined;
    out += String.fromCharCode(parseInt(hex, 16));
    index += 2;
  }
  return out;
}

/** Go's path.Clean on a rooted path, keeping a trailing slash as ServeMux does. */
export function cleanPath(path: string): string {
  const segments: string[] = [];
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  const cleaned = '/' + segments.join('/');
  return path.endsWith('/') && cleaned !== '/' ? cleaned + '/' : cleaned;
}

/** Go's URL path escaping (encodePath): unreserved characters and `$&+,/:;=@` stay, every other byte is %XX. */
function escapePath(path: string): string {
  let out = '';
  for (const char of path) {
    if (/[A-Za-z0-9\-_.~$&+,/:;=@]/.test(char)) {
      out += char;
      continue;
    }
    const code = char.codePointAt(0) as number;
    const bytes = code <= 0xff ? [code] : [...new TextEncoder().encode(char)];
    out += bytes.map((byte) => '%' + byte.toString(16).toUpperCase().padStart(2, '0')).join('');
  }
  return out;
}

function plain(status: number, body: string): HealthAnswer {
  return { status, headers: { 'Content-Type': PLAIN }, body };
}

function badRequest(body: string): HealthAnswer {
  return { status: 400, headers: { ...(body ? { 'Content-Type': PLAIN } : {}), Connection: 'close' }, body };
}

const HTML_ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', "'": '&#39;', '<': '&lt;', '>': '&gt;', '"': '&#34;' };

/** As Go's http.Redirect: an HTML body for GET and HEAD only. */
function redirect(method: string, location: string): HealthAnswer {
  if (method !== 'GET' && method !== 'HEAD') return { status: 301, headers: { Location: location }, body: '' };
  const html = location.replace(/[&<>"']/g, (char) => HTML_ESCAPES[char] as string);
  return { status: 301, headers: { 'Content-Type': 'text/html; charset=utf-8', Location: location }, body: `<a href="${html}">Moved Permanently</a>.\n\n` };
}
