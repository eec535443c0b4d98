import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseExtensionOptions } from '../../src/backend/extension/extension-options.js';
import { LAB_EXTENSION_OPTIONS, defaultLabBackendOptions, flanneldLaunch } from '../../src/lab/lab-backends.js';

describe('lab per-backend setup', () => {
  it('extension gets a host-gw network built from commands; the others no extra options', () => {
    assert.deepEqual(defaultLabBackendOptions('extension'), LAB_EXTENSION_OPTIONS);
    assert.deepEqual(parseExtensionOptions(LAB_EXTENSION_OPTIONS).subnetAddCommand, 'ip route replace $SUBNET via $PUBLIC_IP dev eth0');
    for (const backend of ['vxlan', 'host-gw', 'wireguard', 'ipip']) assert.deepEqual(defaultLabBackendOptions(backend), {}, backend);
  });
  it('wireguard: flanneld runs with the host\'s own /run/wireguard (a bind mount in its mount namespace) and key file', () => {
    assert.deepEqual(flanneldLaunch('vxlan', '/lab/h1', 'node', ['flanneld.js', '--iface', 'eth0']), { command: 'node', args: ['flanneld.js', '--iface', 'eth0'], env: {} });
    const launch = flanneldLaunch('wireguard', '/lab/h1', 'node', ['flanneld.js']);
    assert.deepEqual(launch.env, { WG_LAB_DIR: '/lab/h1/wireguard', WIREGUARD_KEY_FILE: '/lab/h1/wgkey' });
    assert.equal(launch.command, 'sh');
    assert.deepEqual(launch.args.slice(2), ['node', 'flanneld.js']);
    assert.match(launch.args[1] ?? '', /mount --bind "\$WG_LAB_DIR" \/run\/wireguard && exec "\$0" "\$@"$/);
  });
});
