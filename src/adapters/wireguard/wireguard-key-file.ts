/**
 * The WireGuard private key file (reference §5.5): `/run/flannel/wgkey`, or `$WIREGUARD_KEY_FILE` when set. A
 * missing file is created with a fresh key (base64, no newline, as upstream writes it) and mode 0400, its
 * directory with 0755; an existing file is read and kept, so peers keep knowing our public key across restarts.
 *
 * Better than upstream's create-then-write: the key is written to a temporary file in the same directory and
 * hard-linked into place, so a crash never leaves an empty key file behind, and two processes creating it at
 * once end up using the same key (the loser of the link reads the winner's file). A file that cannot be used is
 * an error naming the path and the reason, never a silently replaced key; a file others can read is reported.
 */
import { closeSync, fchmodSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { WireguardKey } from '../../backend/wireguard/wireguard-key.js';
import { FlannelError } from '../../support/errors.js';

export const DEFAULT_WIREGUARD_KEY_FILE = '/run/flannel/wgkey';

export interface LoadedKey {
  readonly privateKey: WireguardKey;
  readonly path: string;
  /** True when this call created the file. */
  readonly created: boolean;
  /** Problems worth a warning (the file is readable by group or others). */
  readonly warnings: readonly string[];
}

/** The key file's path: `WIREGUARD_KEY_FILE` from `env` when set (an empty value is an error), else the default. */
export function wireguardKeyFilePath(env: Readonly<Record<string, string | undefined>>): string {
  const value = env.WIREGUARD_KEY_FILE;
  if (value === undefined) return DEFAULT_WIREGUARD_KEY_FILE;
  if (value === '') throw new FlannelError('WG_KEY_FILE', 'WIREGUARD_KEY_FILE is set but empty; unset it to use /run/flannel/wgkey');
  return value;
}

/** Reads the key at `path`, creating the file first when it does not exist. */
export function loadOrCreateWireguardKey(path: string, generate: () => WireguardKey = () => WireguardKey.generatePrivate()): LoadedKey {
  const existing = readKeyFile(path);
  if (existing) return existing;
  const privateKey = generate();
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  const temporary = join(dirname(path), `.${basename(path)}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    const fd = openSync(temporary, 'wx', 0o400);
    try {
      writeSync(fd, privateKey.toString());
      fchmodSync(fd, 0o400); // whatever the umask
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    linkSync(temporary, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      const raced = readKeyFile(path);
      if (raced) return raced;
    }
    throw new FlannelError('WG_KEY_FILE', `could not write key file ${path}: ${(error as Error).message}`, { cause: error });
  } finally {
    rmSync(temporary, { force: true });
  }
  return { privateKey, path, created: true, warnings: [] };
}

/** The key in an existing file; undefined when there is no file. */
function readKeyFile(path: string): LoadedKey | undefined {
  let text: string;
  let mode: number;
  try {
    mode = statSync(path).mode;
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    const reason = code === 'EISDIR' ? 'it is a directory' : (error as Error).message;
    throw new FlannelError('WG_KEY_FILE', `could not read private key file ${path}: ${reason}`, { cause: error });
  }
  const privateKey = WireguardKey.tryParse(text);
  if (typeof privateKey === 'string') {
    throw new FlannelError('WG_KEY_FILE', `could not parse private key from file ${path}: ${privateKey} (expected one base64 key as written by \`wg genkey\`; remove the file to have a new key generated)`);
  }
  const warnings = (mode & 0o077) !== 0 ? [`private key file ${path} is readable by others (mode ${(mode & 0o777).toString(8).padStart(4, '0')}); chmod 0400 it`] : [];
  return { privateKey, path, created: false, warnings };
}
