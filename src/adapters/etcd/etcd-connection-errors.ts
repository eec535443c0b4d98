/**
 * What went wrong with a connection to etcd, said in words an operator can act on instead of OpenSSL's text:
 * our client certificate rejected, etcd's certificate not trusted, http:// to a TLS port or https:// to a plain
 * one. Pure (Node's error codes in, EndpointFailure out).
 */

/** A failure to reach one endpoint; `configuration` when retrying cannot help (TLS or scheme mismatch). */
export class EndpointFailure extends Error {
  constructor(
    message: string,
    readonly configuration: boolean,
  ) {
    super(message);
  }
}

/** Node/OpenSSL verification codes meaning "etcd's certificate does not chain to a CA we trust". */
const UNTRUSTED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_UNTRUSTED', 'CERT_SIGNATURE_FAILURE',
  'CERT_REJECTED', 'INVALID_CA',
]);
const EXPIRED = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID']);
/** TLS alerts etcd sends when it does not accept our client certificate (or got none). */
const CLIENT_CERT_REJECTED = new Set([
  'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE', 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA',
  'ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN', 'ERR_SSL_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE',
  'ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED', 'ERR_SSL_SSLV3_ALERT_CERTIFICATE_REVOKED', 'ERR_SSL_TLSV1_ALERT_ACCESS_DENIED',
]);
const NOT_TLS = new Set(['ERR_SSL_WRONG_VERSION_NUMBER', 'ERR_SSL_PACKET_LENGTH_TOO_LONG', 'ERR_SSL_HTTP_REQUEST']);

/** The error code of `error` or of the error it was caused by (Node wraps a session's error in its streams'). */
function codeOf(error: unknown): string {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current instanceof Error; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && code !== 'ERR_HTTP2_STREAM_CANCEL' && code !== 'ERR_HTTP2_STREAM_ERROR') return code;
    current = current.cause;
  }
  const text = error instanceof Error ? error.message : String(error);
  return /alert bad certificate|certificate required/i.test(text) ? 'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE' : '';
}

/**
 * Describes a connection failure. `error` undefined means the connection closed without one: before etcd's
 * HTTP/2 handshake (`handshakeDone` false) that is what a TLS port does with a plain-HTTP client. A reset of an
 * https:// connection before that handshake is what a plain port does with a TLS client.
 */
export function describeConnectionFailure(endpoint: string, error: unknown, handshakeDone = false): EndpointFailure {
  const https = endpoint.startsWith('https:');
  if (error === undefined) {
    if (handshakeDone) return new EndpointFailure(`${endpoint}: connection closed`, false);
    return https
      ? new EndpointFailure(`${endpoint}: connection closed before the HTTP/2 handshake`, false)
      : new EndpointFailure(`${endpoint}: connection closed before the HTTP/2 handshake: if etcd serves TLS on this port, use https://`, true);
  }
  const code = codeOf(error);
  const detail = (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '';
  if (UNTRUSTED.has(code)) {
    return new EndpointFailure(`${endpoint}: etcd's server certificate is not trusted (${code}): give its CA with --etcd-cafile`, true);
  }
  if (EXPIRED.has(code)) return new EndpointFailure(`${endpoint}: etcd's server certificate is not valid now (${code})`, true);
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return new EndpointFailure(`${endpoint}: etcd's server certificate does not name this host (${detail}): use an endpoint name or IP in its subjectAltName`, true);
  }
  if (CLIENT_CERT_REJECTED.has(code)) {
    return new EndpointFailure(`${endpoint}: etcd rejected our client certificate (TLS alert ${code.replace(/^ERR_SSL_/, '')}): `
      + 'check --etcd-certfile/--etcd-keyfile (etcd with --client-cert-auth needs one signed by its --trusted-ca-file)', true);
  }
  // A plain-HTTP etcd closes on our ClientHello: with a FIN Node says "before secure TLS connection", with a
  // RST (the ClientHello still unread when Go closes) just ECONNRESET — either way before any HTTP/2 handshake.
  if (NOT_TLS.has(code) || (https && code === 'ECONNRESET' && (!handshakeDone || /before secure TLS connection/i.test(detail)))) {
    return new EndpointFailure(`${endpoint}: etcd did not answer the TLS handshake: if it serves plain HTTP on this port, use http://`, true);
  }
  if (code === 'ECONNREFUSED') return new EndpointFailure(`${endpoint}: connection refused (etcd not running?)`, false);
  return new EndpointFailure(`${endpoint}: ${detail}`, false);
}
