/**
 * etcd with TLS client certificates and a user limited by a role to the prefix (the usual recipe: user add,
 * role add, role grant-permission --prefix, user grant-role, auth enable): flanneld works with the right
 * credentials, and wrong credentials or a user without the role fail at once with a clear error.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FLANNELD_JS, FLANNEL_PASSWORD } from '../../src/lab/lab.js';
import type { LabHost } from '../../src/lab/lab-layout.js';
import { labForSuite } from '../support/lab-suite.js';
import { inNetns } from '../../src/lab/shell.js';

const lab = labForSuite({ prefix: 'ftsec', hosts: 2, backend: 'host-gw', secureEtcd: true });
const [h1, h2] = lab.layout.hosts as [LabHost, LabHost];

function runFlanneld(host: LabHost, replace: Record<string, string>): { status: number; log: string } {
  const args = lab.flanneldArgs(host).map((value, index, all) => {
    const flag = all[index - 1];
    return flag !== undefined && flag in replace ? (replace[flag] as string) : value;
  });
  const result = inNetns(host.netns, process.execPath, [FLANNELD_JS, ...args], { allowFailure: true, timeoutMs: 30_000 });
  return { status: result.status, log: result.stderr + result.stdout };
}

describe('etcd with TLS client certificates and role-based auth', () => {

  it('flanneld leases and routes through the secured etcd', () => {
    assert.deepEqual(lab.pingMatrix(), []);
    assert.match(lab.flanneldLog(h1), /flannel is ready/);
    assert.doesNotMatch(lab.flanneldLog(h1), /connecting to etcd with http/);
  });

  it('a wrong password fails at once with a clear error', () => {
    const { status, log } = runFlanneld(h1, { '--healthz-port': '0', '--etcd-password': `${FLANNEL_PASSWORD}-wrong`, '--subnet-file': '/run/flannel-ts-lab/ftsec/wrong.env' });
    assert.equal(status, 1, log);
    assert.match(log, /authentication failed/);
  });

  it('a user without the role is refused with a clear error', () => {
    lab.etcdctl(['user', 'add', 'norole:norole-pw']);
    const { status, log } = runFlanneld(h2, { '--healthz-port': '0', '--etcd-username': 'norole', '--etcd-password': 'norole-pw', '--subnet-file': '/run/flannel-ts-lab/ftsec/norole.env' });
    assert.equal(status, 1, log);
    assert.match(log, /permission denied/);
  });
});
