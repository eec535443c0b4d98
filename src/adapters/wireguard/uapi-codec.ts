/**
 * wireguard-go's UAPI text protocol (www.wireguard.com/xplatform, wireguard-go `device/uapi.go`): requests
 * `set=1` / `get=1`, then `key=value` lines, then a blank line; replies end with `errno=N` and a blank line
 * (0 success, else a negative errno: −22 EINVAL, −98 EADDRINUSE, −71 EPROTO, −5 EIO). Keys are lower-case hex.
 *
 * The Debian wireguard-go (0.0.20220316) predates `allowed_ip=-<prefix>`, so allowed IPs are only ever set as a
 * complete list after `replace_allowed_ips=true`. Pure: text in, text out; unknown keys in a `get` reply are
 * skipped (newer wireguard-go versions add some).
 */
import { getSystemErrorMap } from 'node:util';
import { Cidr, IpAddress } from '../../net/ip.js';
import { FlannelError } from '../../support/errors.js';
import { type WireguardDeviceChange, type WireguardDeviceState, type WireguardEndpoint, type WireguardPeerBuilder, type WireguardPeerState, formatEndpoint, newPeerBuilder } from '../../backend/wireguard/wireguard-control.js';
import { WireguardKey } from '../../backend/wireguard/wireguard-key.js';

/** The `set=1` request for a change, blank line included. */
export function encodeUapiSet(change: WireguardDeviceChange): string {
  const lines = ['set=1'];
  if (change.privateKey) lines.push(`private_key=${change.privateKey.toHex()}`);
  if (change.listenPort !== undefined) lines.push(`listen_port=${change.listenPort}`);
  if (change.fwmark !== undefined) lines.push(`fwmark=${change.fwmark}`);
  if (change.replacePeers) lines.push('replace_peers=true');
  for (const peer of change.peers ?? []) {
    lines.push(`public_key=${peer.publicKey.toHex()}`);
    if (peer.remove) {
      lines.push('remove=true');
      continue;
    }
    if (peer.updateOnly) lines.push('update_only=true');
    if (peer.presharedKey !== undefined) lines.push(`preshared_key=${(peer.presharedKey ?? WireguardKey.ZERO).toHex()}`);
    if (peer.endpoint) lines.push(`endpoint=${formatEndpoint(peer.endpoint)}`);
    if (peer.persistentKeepaliveSeconds !== undefined) lines.push(`persistent_keepalive_interval=${peer.persistentKeepaliveSeconds}`);
    if (peer.replaceAllowedIps) lines.push('replace_allowed_ips=true');
    for (const allowed of peer.allowedIps ?? []) lines.push(`allowed_ip=${allowed.masked()}`);
  }
  return `${lines.join('\n')}\n\n`;
}

export const UAPI_GET = 'get=1\n\n';

/** True once `text` holds a complete reply (it ends with the blank line after `errno=`). */
export function uapiReplyComplete(text: string): boolean {
  return /(^|\n)errno=-?\d+\n\n$/.test(text);
}

const systemErrors = getSystemErrorMap();

/** Throws FlannelError named for the errno when the reply reports one; `what` says which request. */
export function checkUapiErrno(text: string, what: string): void {
  const match = /(?:^|\n)errno=(-?\d+)\n\n$/.exec(text);
  if (!match) throw new FlannelError('EPROTO', `${what}: malformed UAPI reply ${JSON.stringify(text.slice(-80))}`);
  const errno = Math.abs(Number(match[1]));
  if (errno === 0) return;
  const [code, description] = systemErrors.get(-errno) ?? [`ERRNO_${errno}`, `errno ${errno}`];
  throw new FlannelError(code, `${what}: wireguard-go refused it: ${description}`, { retryable: code === 'EADDRINUSE' || code === 'EIO' });
}

/** A peer being read; the handshake time arrives as two lines. */
type PeerBuilder = WireguardPeerBuilder & { handshakeSeconds: number; handshakeNanoseconds: number };

/** Decodes a `get=1` reply (checked for errno first). */
export function parseUapiGet(text: string, name: string): WireguardDeviceState {
  checkUapiErrno(text, `wireguard device ${name}: get`);
  let privateKey: WireguardKey | undefined;
  let listenPort = 0;
  let fwmark = 0;
  const peers: PeerBuilder[] = [];
  const bad = (key: string, value: string): never => {
    throw new FlannelError('EPROTO', `wireguard device ${name}: bad UAPI value ${key}=${JSON.stringify(value)}`);
  };
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('errno=')) continue;
    const equals = line.indexOf('=');
    if (equals <= 0) bad(line, '');
    const key = line.slice(0, equals);
    const value = line.slice(equals + 1);
    const peer = peers[peers.length - 1];
    const number = (): number => (/^\d+$/.test(value) ? Number(value) : bad(key, value));
    const key32 = (): WireguardKey => WireguardKey.tryFromHex(value) ?? bad(key, 'hex key');
    if (key === 'public_key') {
      peers.push({ ...newPeerBuilder(key32()), handshakeSeconds: 0, handshakeNanoseconds: 0 });
    } else if (!peer) {
      if (key === 'private_key') privateKey = key32();
      else if (key === 'listen_port') listenPort = number();
      else if (key === 'fwmark') fwmark = number();
    } else if (key === 'preshared_key') peer.presharedKey = key32();
    else if (key === 'endpoint') peer.endpoint = parseEndpoint(value) ?? bad(key, value);
    else if (key === 'persistent_keepalive_interval') peer.persistentKeepaliveSeconds = number();
    else if (key === 'allowed_ip') peer.allowedIps.push(Cidr.tryParse(value)?.masked() ?? bad(key, value));
    else if (key === 'last_handshake_time_sec') peer.handshakeSeconds = number();
    else if (key === 'last_handshake_time_nsec') peer.handshakeNanoseconds = number();
    else if (key === 'rx_bytes') peer.rxBytes = BigInt(number());
    else if (key === 'tx_bytes') peer.txBytes = BigInt(number());
  }
  return {
    name,
    ...(privateKey && !privateKey.isZero() ? { privateKey, publicKey: privateKey.publicKey() } : {}),
    listenPort,
    fwmark,
    peers: peers.map(toPeerState),
  };
}

function toPeerState(peer: PeerBuilder): WireguardPeerState {
  const handshake = peer.handshakeSeconds * 1000 + Math.floor(peer.handshakeNanoseconds / 1e6);
  return {
    publicKey: peer.publicKey,
    ...(peer.presharedKey && !peer.presharedKey.isZero() ? { presharedKey: peer.presharedKey } : {}),
    ...(peer.endpoint ? { endpoint: peer.endpoint } : {}),
    persistentKeepaliveSeconds: peer.persistentKeepaliveSeconds,
    allowedIps: peer.allowedIps,
    ...(handshake > 0 ? { lastHandshakeEpochMs: handshake } : {}),
    rxBytes: peer.rxBytes,
    txBytes: peer.txBytes,
  };
}

/** `1.2.3.4:51820` or `[fd00::1]:51820` (a zone, `%eth0`, is dropped). */
export function parseEndpoint(text: string): WireguardEndpoint | undefined {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  if (!match) return undefined;
  const ip = IpAddress.tryParse((match[1] ?? match[2] ?? '').replace(/%.*$/, ''));
  const port = Number(match[3]);
  if (!ip || port > 65535 || (match[1] !== undefined) !== (ip.family === 6)) return undefined;
  return { ip, port };
}
