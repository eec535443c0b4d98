/** deploy/kube-flannel.yml keeps upstream's objects, names, RBAC rules, config and DaemonSet shape (reference §4.7). */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { VERSION } from '../../src/version.js';

const root = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', '..');
type Any = any;
const documents: Any[] = parseAllDocuments(readFileSync(join(root, 'deploy', 'kube-flannel.yml'), 'utf8')).map((doc) => doc.toJS()).filter(Boolean);
const find = (kind: string) => documents.find((doc) => doc.kind === kind);

describe('deploy/kube-flannel.yml', () => {
  it('has upstream\'s objects and names', () => {
    assert.deepEqual(documents.map((doc) => `${doc.kind}/${doc.metadata.namespace ?? ''}/${doc.metadata.name}`), [
      'Namespace//kube-flannel', 'ClusterRole//flannel', 'ClusterRoleBinding//flannel', 'ServiceAccount/kube-flannel/flannel',
      'ConfigMap/kube-flannel/kube-flannel-cfg', 'DaemonSet/kube-flannel/kube-flannel-ds',
    ]);
    assert.equal(find('Namespace').metadata.labels['pod-security.kubernetes.io/enforce'], 'privileged');
  });

  it('grants exactly upstream\'s rules, bound to the flannel service account', () => {
    assert.deepEqual(find('ClusterRole').rules, [
      { apiGroups: [''], resources: ['pods'], verbs: ['get'] },
      { apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: [''], resources: ['nodes/status'], verbs: ['patch'] },
    ]);
    assert.deepEqual(find('ClusterRoleBinding').subjects, [{ kind: 'ServiceAccount', name: 'flannel', namespace: 'kube-flannel' }]);
    assert.deepEqual(find('ClusterRoleBinding').roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'flannel' });
  });

  it('carries upstream\'s cni-conf.json and net-conf.json', () => {
    const data = find('ConfigMap').data;
    assert.deepEqual(JSON.parse(data['cni-conf.json']), { name: 'cbr0', cniVersion: '0.3.1', plugins: [
      { type: 'flannel', delegate: { hairpinMode: true, isDefaultGateway: true } }, { type: 'portmap', capabilities: { portMappings: true } },
    ] });
    assert.deepEqual(JSON.parse(data['net-conf.json']), { Network: '10.244.0.0/16', EnableNFTables: false, Backend: { Type: 'vxlan' } });
  });

  it('runs the DaemonSet as upstream, with our image and install-cni in both init containers', () => {
    const spec = find('DaemonSet').spec.template.spec;
    assert.equal(spec.hostNetwork, true);
    assert.equal(spec.priorityClassName, 'system-node-critical');
    assert.equal(spec.serviceAccountName, 'flannel');
    assert.deepEqual(spec.tolerations, [{ operator: 'Exists', effect: 'NoSchedule' }]);
    assert.deepEqual(spec.initContainers.map((c: Any) => [c.name, c.image, [...c.command, ...c.args].join(' '), c.volumeMounts.map((m: Any) => m.mountPath).join(',')]), [
      ['install-cni-plugin', `localhost/flannel-ts:${VERSION}`, '/opt/bin/flannelctl install-cni --plugin-dir /opt/cni/bin', '/opt/cni/bin'],
      ['install-cni', `localhost/flannel-ts:${VERSION}`, '/opt/bin/flannelctl install-cni --conf /etc/kube-flannel/cni-conf.json --conf-dest /etc/cni/net.d/10-flannel.conflist', '/etc/cni/net.d,/etc/kube-flannel/'],
    ]);
    const [main] = spec.containers;
    assert.equal(main.image, `localhost/flannel-ts:${VERSION}`);
    assert.deepEqual([...main.command, ...main.args], ['/opt/bin/flanneld', '--ip-masq', '--kube-subnet-mgr', '--healthz-port=8081']);
    assert.deepEqual([main.livenessProbe.httpGet.path, main.livenessProbe.initialDelaySeconds, main.livenessProbe.periodSeconds], ['/healthz', 10, 30]);
    assert.deepEqual([main.readinessProbe.httpGet.path, main.readinessProbe.initialDelaySeconds, main.readinessProbe.periodSeconds], ['/readyz', 5, 10]);
    assert.deepEqual(main.securityContext, { privileged: false, capabilities: { add: ['NET_ADMIN', 'NET_RAW'] } });
    assert.deepEqual(main.env.map((e: Any) => `${e.name}=${e.value ?? e.valueFrom.fieldRef.fieldPath}`), ['POD_NAME=metadata.name', 'POD_NAMESPACE=metadata.namespace', 'EVENT_QUEUE_DEPTH=5000', 'CONT_WHEN_CACHE_NOT_READY=false']);
    assert.deepEqual(main.volumeMounts.map((m: Any) => `${m.name}:${m.mountPath}`), ['run:/run/flannel', 'flannel-cfg:/etc/kube-flannel/', 'xtables-lock:/run/xtables.lock']);
    assert.deepEqual(spec.volumes.map((v: Any) => `${v.name}:${v.hostPath?.path ?? v.configMap.name}${v.hostPath?.type ? `:${v.hostPath.type}` : ''}`),
      ['run:/run/flannel', 'cni-plugin:/opt/cni/bin', 'cni:/etc/cni/net.d', 'flannel-cfg:kube-flannel-cfg', 'xtables-lock:/run/xtables.lock:FileOrCreate']);
  });
});
