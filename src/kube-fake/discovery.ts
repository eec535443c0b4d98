/**
 * The discovery documents of the fake API server (GET /api, /apis, /api/v1, /version): what kubectl reads to
 * map "nodes" and "pods" to URLs before its first real request. Only the core group, only what exists.
 */
import type { JsonObject } from './api-status.js';

export const VERSION_INFO: JsonObject = {
  major: '1', minor: '30', gitVersion: 'v1.30.0-flannel-ts-fake', gitCommit: '', gitTreeState: 'clean',
  buildDate: '1970-01-01T00:00:00Z', goVersion: 'none', compiler: 'none', platform: 'linux/amd64',
};

export const API_VERSIONS: JsonObject = {
  kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: '' }],
};

export const API_GROUP_LIST: JsonObject = { kind: 'APIGroupList', apiVersion: 'v1', groups: [] };

export const API_V1_RESOURCES: JsonObject = {
  kind: 'APIResourceList', groupVersion: 'v1',
  resources: [
    { name: 'nodes', singularName: 'node', namespaced: false, kind: 'Node', verbs: ['create', 'delete', 'get', 'list', 'patch', 'watch'], shortNames: ['no'] },
    { name: 'nodes/status', singularName: '', namespaced: false, kind: 'Node', verbs: ['get', 'patch'] },
    { name: 'pods', singularName: 'pod', namespaced: true, kind: 'Pod', verbs: ['create', 'delete', 'get'], shortNames: ['po'] },
  ],
};
