/**
 * Read-only looks at this host for `flannelctl trace` and `doctor`: sysctls, the filter table (iptables-save),
 * subnet.env, device nodes, CNI files, WireGuard peers (`wg show all dump`). Each answers undefined (or an
 * error string) when the thing is absent or unreadable, never throws: a diagnosis reports what it could not see.
 * Commands run with a 5 s timeout.
 */
import { execFile } from 'node:child_process';
import { accessSync, constants, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Cidr } from '../../net/ip.js';
import { type FirewallView, parseFilterTable } from '../../ops/firewall-view.js';
import type { TraceWireguardPeer } from '../../ops/trace/trace-facts.js';
import { errorMessage } from '../../support/errors.js';

const TIMEOUT_MS = 5000;

export function runTool(command: string, args: readonly string[]): Promise<{ ok: boolean; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(command, [...args], { timeout: TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => resolve({ ok: !error, stdout: String(stdout), stderr: error && !stderr ? errorMessage(error) : String(stderr) }));
  });
}

/** A /proc/sys value (`net/ipv4/ip_forward`), trimmed. */
export function readSysctl(name: string): string | undefined {
  try {
    return readFileSync(join('/proc/sys', name), 'utf8').trim();
  } catch {
    return undefined;
  }
}

export async function readFirewallView(family: 4 | 6): Promise<FirewallView | undefined> {
  const result = await runTool(family === 4 ? 'iptables-save' : 'ip6tables-save', ['-t', 'filter']);
  return result.ok ? parseFilterTable(result.stdout) : undefined;
}

export function readTextFile(path: string): { text?: string; error?: string } {
  try {
    return { text: readFileSync(path, 'utf8') };
  } catch (error) {
    return (error as { code?: string }).code === 'ENOENT' ? {} : { error: errorMessage(error) };
  }
}

export function isCharacterDevice(path: string): boolean {
  try {
    return statSync(path).isCharacterDevice();
  } catch {
    return false;
  }
}

export function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** The files of a directory with their text (CNI configs); missing directory: empty. */
export function readDirectoryFiles(directory: string): Array<{ name: string; text: string }> {
  try {
    return readdirSync(directory).sort().flatMap((name) => {
      const { text } = readTextFile(join(directory, name));
      return text === undefined ? [] : [{ name, text }];
    });
  } catch {
    return [];
  }
}

/** Peers of every WireGuard device, from `wg show all dump`; undefined when `wg` is unavailable. */
export async function readWireguardPeers(): Promise<TraceWireguardPeer[] | undefined> {
  const result = await runTool('wg', ['show', 'all', 'dump']);
  if (!result.ok) return undefined;
  const peers: TraceWireguardPeer[] = [];
  for (const line of result.stdout.split('\n')) {
    const fields = line.split('\t');
    // Peer lines: device, public key, preshared key, endpoint, allowed ips, latest handshake, rx, tx, keepalive.
    if (fields.length !== 9) continue;
    const [device, publicKey, , endpoint, allowed, handshake] = fields as [string, string, string, string, string, string];
    const allowedIps = allowed === '(none)' ? [] : allowed.split(',').flatMap((text) => Cidr.tryParse(text) ?? []);
    const seconds = Number(handshake);
    peers.push({
      device, publicKey, allowedIps,
      ...(endpoint === '(none)' ? {} : { endpoint }),
      ...(seconds > 0 ? { lastHandshakeEpochMs: seconds * 1000 } : {}),
    });
  }
  return peers;
}

/**
 * Whether the kernel can create a link of `kind` (vxlan, wireguard, ipip, tun…), tried in a scratch network
 * namespace made and deleted here (`ip netns add flannel-doctor-<pid>`), so the host's own links are never touched.
 */
export async function probeLinkKind(kind: string): Promise<{ ok: boolean; error?: string }> {
  const namespace = `flannel-doctor-${process.pid}`;
  const added = await runTool('ip', ['netns', 'add', namespace]);
  if (!added.ok) return { ok: false, error: `cannot make a scratch namespace: ${added.stderr.trim()}` };
  try {
    const args = kind === 'vxlan' ? ['link', 'add', 'probe0', 'type', 'vxlan', 'id', '1', 'dstport', '8472']
      : kind === 'tun' ? ['tuntap', 'add', 'dev', 'probe0', 'mode', 'tun']
      : ['link', 'add', 'probe0', 'type', kind];
    const result = await runTool('ip', ['-n', namespace, ...args]);
    return result.ok ? { ok: true } : { ok: false, error: result.stderr.trim() };
  } finally {
    await runTool('ip', ['netns', 'del', namespace]);
  }
}
