/**
 * Where the Kubernetes API is and how to authenticate, resolved as upstream's clientcmd.BuildConfigFromFlags
 * (reference §4.1):
 * - neither `--kube-api-url` nor `--kubeconfig-file`: the in-cluster config — https://KUBERNETES_SERVICE_HOST:
 *   KUBERNETES_SERVICE_PORT, the service-account token (a file re-read while running: bound tokens rotate) and
 *   CA; if that fails, the error says so (upstream falls back to an empty config, which fails anyway);
 * - a kubeconfig file: its current context's cluster (server, CA data or file, insecure-skip-tls-verify,
 *   tls-server-name) and user (token, tokenFile, client certificate and key as data or files, username and
 *   password); relative paths are relative to the kubeconfig's directory; `--kube-api-url` replaces the server
 *   (and clears tls-server-name) and keeps the rest;
 * - only `--kube-api-url`: that server, no credentials, system CAs (as upstream).
 * As in client-go, credentials are only used over https. exec and auth-provider plugins are refused.
 */
import { dirname, resolve } from 'node:path';
import { FlannelError, errorMessage } from '../../support/errors.js';
import { isJsonObject } from '../../support/json-fields.js';

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export interface KubeCredentials {
  readonly bearerToken?: string;
  /** Re-read while running (rotating tokens); takes over from `bearerToken` after the first read. */
  readonly bearerTokenFile?: string;
  readonly username?: string;
  readonly password?: string;
}

export interface KubeConnection {
  /** Base URL, without a trailing slash (a path prefix is kept). */
  readonly server: string;
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
  readonly insecureSkipTlsVerify: boolean;
  readonly tlsServerName?: string;
  readonly credentials: KubeCredentials;
  readonly source: 'in-cluster' | 'kubeconfig' | 'api-url';
  /** Things worth a warning (credentials not sent over http, an unreadable in-cluster CA). */
  readonly notes: readonly string[];
}

export interface ConnectionInputs {
  readonly apiUrl: string;
  readonly kubeconfigFile: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly readFile: (path: string) => Buffer;
  readonly serviceAccountDir?: string;
}

/** Throws FlannelError('KUBE_CONFIG') with upstream's prefix "fail to create kubernetes config: …". */
export async function resolveKubeConnection(inputs: ConnectionInputs): Promise<KubeConnection> {
  try {
    if (inputs.apiUrl === '' && inputs.kubeconfigFile === '') return inCluster(inputs);
    if (inputs.kubeconfigFile === '') {
      return finish({ server: inputs.apiUrl, insecureSkipTlsVerify: false, credentials: {}, source: 'api-url', notes: [] });
    }
    return finish(await fromKubeconfig(inputs));
  } catch (error) {
    throw new FlannelError('KUBE_CONFIG', `fail to create kubernetes config: ${errorMessage(error)}`, { cause: error });
  }
}

function inCluster({ env, readFile, serviceAccountDir = SERVICE_ACCOUNT_DIR }: ConnectionInputs): KubeConnection {
  const host = env.KUBERNETES_SERVICE_HOST ?? '';
  const port = env.KUBERNETES_SERVICE_PORT ?? '';
  if (host === '' || port === '') {
    throw new Error('unable to load in-cluster configuration, KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be defined' +
      ' (or give --kubeconfig-file / --kube-api-url)');
  }
  const tokenFile = `${serviceAccountDir}/token`;
  const token = readText(readFile, tokenFile, 'service-account token').trim();
  const notes: string[] = [];
  let ca: Buffer | undefined;
  try {
    ca = readFile(`${serviceAccountDir}/ca.crt`);
  } catch (error) {
    notes.push(`expected to load root CA config from ${serviceAccountDir}/ca.crt, but got err: ${errorMessage(error)}`);
  }
  return finish({
    server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    ...(ca ? { ca } : {}),
    insecureSkipTlsVerify: false,
    credentials: { bearerToken: token, bearerTokenFile: tokenFile },
    source: 'in-cluster',
    notes,
  });
}

async function fromKubeconfig({ kubeconfigFile, apiUrl, readFile }: ConnectionInputs): Promise<KubeConnection> {
  const text = readText(readFile, kubeconfigFile, 'kubeconfig');
  const document = await parseYamlOrJson(text, kubeconfigFile);
  const base = dirname(resolve(kubeconfigFile));
  const file = (path: string) => resolve(base, path);
  const contextName = stringField(document, 'current-context');
  const context = contextName === '' ? {} : namedEntry(document, 'contexts', 'context', contextName);
  const clusterName = stringField(context, 'cluster');
  const userName = stringField(context, 'user');
  const cluster = clusterName === '' ? {} : namedEntry(document, 'clusters', 'cluster', clusterName);
  const user = userName === '' ? {} : namedEntry(document, 'users', 'user', userName);
  const server = apiUrl !== '' ? apiUrl : stringField(cluster, 'server');
  if (server === '') {
    throw new Error(contextName === '' ? `invalid configuration: no configuration has been provided (${kubeconfigFile} has no current-context)`
      : `invalid configuration: no server found for cluster ${JSON.stringify(clusterName)}`);
  }
  for (const plugin of ['exec', 'auth-provider']) {
    if (user[plugin] !== undefined && user[plugin] !== null) throw new Error(`user ${JSON.stringify(userName)} uses an ${plugin} plugin, which flannel-ts does not support; use a token or a client certificate`);
  }
  const caData = base64Field(cluster, 'certificate-authority-data');
  const caFile = stringField(cluster, 'certificate-authority');
  const insecureSkipTlsVerify = cluster['insecure-skip-tls-verify'] === true;
  if (insecureSkipTlsVerify && (caData || caFile !== '')) {
    throw new Error('specifying a root certificates file with the insecure flag is not allowed');
  }
  const ca = caData ?? (caFile !== '' ? readFile(file(caFile)) : undefined);
  const certData = base64Field(user, 'client-certificate-data');
  const certFile = stringField(user, 'client-certificate');
  const keyData = base64Field(user, 'client-key-data');
  const keyFile = stringField(user, 'client-key');
  const cert = certData ?? (certFile !== '' ? readFile(file(certFile)) : undefined);
  const key = keyData ?? (keyFile !== '' ? readFile(file(keyFile)) : undefined);
  if ((cert === undefined) !== (key === undefined)) throw new Error(`user ${JSON.stringify(userName)}: a client certificate needs its key and the other way round`);
  const token = stringField(user, 'token');
  const tokenFile = stringField(user, 'tokenFile');
  const credentials: KubeCredentials = {
    ...(token !== '' ? { bearerToken: token } : tokenFile !== '' ? { bearerToken: readText(readFile, file(tokenFile), 'tokenFile').trim(), bearerTokenFile: file(tokenFile) } : {}),
    ...(stringField(user, 'username') !== '' || stringField(user, 'password') !== '' ? { username: stringField(user, 'username'), password: stringField(user, 'password') } : {}),
  };
  const tlsServerName = apiUrl === '' ? stringField(cluster, 'tls-server-name') : '';
  return {
    server, ...(ca ? { ca } : {}), ...(cert && key ? { cert, key } : {}), insecureSkipTlsVerify,
    ...(tlsServerName !== '' ? { tlsServerName } : {}), credentials, source: 'kubeconfig', notes: [],
  };
}

function finish(connection: KubeConnection): KubeConnection {
  let url: URL;
  try {
    url = new URL(connection.server);
  } catch {
    throw new Error(`invalid server URL ${JSON.stringify(connection.server)}`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error(`invalid server URL ${JSON.stringify(connection.server)}: want http:// or https://`);
  const server = `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, '')}`;
  if (url.protocol === 'https:') return { ...connection, server };
  // client-go reads user credentials only for TLS transports: never send a token in clear text.
  const hasCredentials = Object.keys(connection.credentials).length > 0 || connection.cert !== undefined;
  return {
    server, insecureSkipTlsVerify: false, credentials: {}, source: connection.source,
    notes: [...connection.notes, ...(hasCredentials ? [`server ${server} is plain http: credentials are not sent`] : [])],
  };
}

async function parseYamlOrJson(text: string, path: string): Promise<Record<string, unknown>> {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    try {
      const { parse } = await import('yaml');
      document = parse(text);
    } catch (error) {
      throw new Error(`${path}: not YAML: ${errorMessage(error)}`);
    }
  }
  if (document === null || document === undefined) return {};
  if (!isJsonObject(document)) throw new Error(`${path}: a kubeconfig must be a mapping`);
  return document;
}

function namedEntry(document: Record<string, unknown>, list: string, field: string, name: string): Record<string, unknown> {
  const entries = Array.isArray(document[list]) ? (document[list] as unknown[]) : [];
  const entry = entries.find((item) => isJsonObject(item) && item.name === name);
  if (!isJsonObject(entry)) {
    throw new Error(list === 'contexts' ? `context was not found for specified context: ${name}` : `${field} ${JSON.stringify(name)} does not exist`);
  }
  return isJsonObject(entry[field]) ? entry[field] : {};
}

function stringField(object: Record<string, unknown>, field: string): string {
  const value = object[field];
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string') throw new Error(`${field}: expected a string, got ${JSON.stringify(value)}`);
  return value;
}

function base64Field(object: Record<string, unknown>, field: string): Buffer | undefined {
  const text = stringField(object, field);
  if (text === '') return undefined;
  if (!/^[A-Za-z0-9+/\s]*={0,2}\s*$/.test(text)) throw new Error(`${field}: not base64`);
  return Buffer.from(text, 'base64');
}

function readText(readFile: (path: string) => Buffer, path: string, what: string): string {
  try {
    return readFile(path).toString('utf8');
  } catch (error) {
    throw new Error(`cannot read ${what} ${path}: ${errorMessage(error)}`);
  }
}
