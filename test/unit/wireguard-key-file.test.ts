import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { DEFAULT_WIREGUARD_KEY_FILE, loadOrCreateWireguardKey, wireguardKeyFilePath } from '../../src/adapters/wireguard/wireguard-key-file.js';
import { WireguardKey } from '../../src/backend/wireguard/wireguard-key.js';

const root = mkdtempSync(join(tmpdir(), 'flannel-wgkey-'));
after(() => rmSync(root, { recursive: true, force: true }));
const KEY = '+CHdOG05ooiJljSeZ6j2CPw+SG4mctyTHFuvoJ/YuWk=';

describe('WireGuard key file', () => {
  it('creates a missing file (and its directory) with mode 0400 holding the base64 key, then reuses it', () => {
    const path = join(root, 'new', 'run', 'wgkey');
    const first = loadOrCreateWireguardKey(path);
    assert.equal(first.created, true);
    assert.equal(statSync(path).mode & 0o777, 0o400);
    assert.equal(statSync(join(root, 'new', 'run')).mode & 0o777, 0o755);
    assert.match(readFileSync(path, 'utf8'), /^[A-Za-z0-9+/]{43}=$/, 'base64, no newline (as upstream writes it)');
    const second = loadOrCreateWireguardKey(path, () => assert.fail('must not generate again'));
    assert.equal(second.created, false);
    assert.ok(second.privateKey.equals(first.privateKey), 'same key after a restart');
    assert.deepEqual(second.warnings, []);
    assert.deepEqual(readdirSync(join(root, 'new', 'run')), ['wgkey'], 'no temporary file left behind');
  });
  it('reads a key written by wg genkey (trailing newline) and warns when others can read it', () => {
    const path = join(root, 'genkey');
    writeFileSync(path, `${KEY}\n`);
    chmodSync(path, 0o644);
    const loaded = loadOrCreateWireguardKey(path);
    assert.equal(loaded.privateKey.toString(), KEY);
    assert.deepEqual(loaded.warnings, [`private key file ${path} is readable by others (mode 0644); chmod 0400 it`]);
  });
  it('refuses an unusable file with the path and the reason, and never replaces it', () => {
    const cases: Array<[string, string | undefined, RegExp]> = [
      ['empty', '', /could not parse private key from file .*empty: empty \(expected one base64 key/],
      ['short', 'AAAA', /could not parse private key from file .*short: incorrect key size: 3 bytes/],
      ['garbage', 'not a key at all', /could not parse private key from file .*garbage: not base64/],
      ['directory', undefined, /could not read private key file .*directory: it is a directory/],
    ];
    for (const [name, content, expected] of cases) {
      const path = join(root, name);
      if (content === undefined) mkdirSync(path);
      else writeFileSync(path, content);
      assert.throws(() => loadOrCreateWireguardKey(path), (error: Error & { code?: string }) => error.code === 'WG_KEY_FILE' && expected.test(error.message), name);
      if (content !== undefined) assert.equal(readFileSync(path, 'utf8'), content, 'left as it was');
    }
  });
  it('when another process creates the file first, uses that key', () => {
    const path = join(root, 'raced');
    const loaded = loadOrCreateWireguardKey(path, () => {
      writeFileSync(path, KEY); // the other flanneld wins the race between our read and our link
      return WireguardKey.generatePrivate();
    });
    assert.equal(loaded.privateKey.toString(), KEY);
    assert.equal(loaded.created, false);
  });
  it('takes WIREGUARD_KEY_FILE as upstream does; an empty value is an error', () => {
    assert.equal(wireguardKeyFilePath({}), DEFAULT_WIREGUARD_KEY_FILE);
    assert.equal(DEFAULT_WIREGUARD_KEY_FILE, '/run/flannel/wgkey');
    assert.equal(wireguardKeyFilePath({ WIREGUARD_KEY_FILE: '/etc/flannel/key' }), '/etc/flannel/key');
    assert.throws(() => wireguardKeyFilePath({ WIREGUARD_KEY_FILE: '' }), /WIREGUARD_KEY_FILE is set but empty/);
  });
});
