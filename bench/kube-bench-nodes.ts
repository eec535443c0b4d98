/**
 * Node objects for the Kubernetes benchmark, shaped like a kubelet's (labels, addresses, capacity, five
 * conditions, node info, a few images: about 2.5 KB each as JSON) so that listing and decoding cost what they
 * cost on a real cluster, annotated as another flanneld (vxlan) leaves them. Peer i uses benchPeer(i)'s
 * subnet, public IP and VTEP MAC; our own node is "bench" with 10.0.0.0/24 and no flannel annotations yet.
 */
import { benchPeer } from './bench-namespace.js';

const P = 'flannel.alpha.coreos.com/';
const CREATED = '2025-01-01T00:00:00Z';

export function benchNode(index: number): Record<string, unknown> {
  const peer = benchPeer(index);
  return node(`node-${index}`, index + 2, peer.subnet, peer.publicIP, {
    [`${P}backend-data`]: `{"VNI":1,"VtepMAC":"${peer.mac}"}`, [`${P}backend-type`]: 'vxlan',
    [`${P}kube-subnet-manager`]: 'true', [`${P}public-ip`]: peer.publicIP,
  });
}

export function ownNode(): Record<string, unknown> {
  return node('bench', 1, '10.0.0.0/24', '198.18.0.1', {});
}

function node(name: string, resourceVersion: number, podCIDR: string, address: string, flannel: Record<string, string>): Record<string, unknown> {
  const condition = (type: string, status: string, reason: string, message: string) => ({
    type, status, lastHeartbeatTime: CREATED, lastTransitionTime: CREATED, reason, message,
  });
  return {
    kind: 'Node', apiVersion: 'v1',
    metadata: {
      name, uid: `00000000-0000-4000-8000-${String(resourceVersion).padStart(12, '0')}`, resourceVersion: String(resourceVersion), creationTimestamp: CREATED,
      labels: {
        'beta.kubernetes.io/arch': 'amd64', 'beta.kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64', 'kubernetes.io/hostname': name,
        'kubernetes.io/os': 'linux', 'node.kubernetes.io/instance-type': 'm5.large', 'topology.kubernetes.io/zone': `zone-${resourceVersion % 3}`,
      },
      annotations: { ...flannel, 'node.alpha.kubernetes.io/ttl': '0', 'volumes.kubernetes.io/controller-managed-attach-detach': 'true' },
    },
    spec: { podCIDR, podCIDRs: [podCIDR], providerID: `aws:///zone/i-${resourceVersion.toString(16).padStart(17, '0')}` },
    status: {
      capacity: { cpu: '2', 'ephemeral-storage': '82536Mi', 'hugepages-2Mi': '0', memory: '7934Mi', pods: '110' },
      allocatable: { cpu: '1930m', 'ephemeral-storage': '76043Mi', 'hugepages-2Mi': '0', memory: '7220Mi', pods: '110' },
      conditions: [
        condition('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'),
        condition('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
        condition('PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
        condition('Ready', 'True', 'KubeletReady', 'kubelet is posting ready status'),
        condition('NetworkUnavailable', 'False', 'FlannelIsUp', 'Flannel is running on this node'),
      ],
      addresses: [{ type: 'InternalIP', address }, { type: 'Hostname', address: name }],
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
      nodeInfo: {
        machineID: 'ec2f6b9e0f8c4d6c9f1e0a1b2c3d4e5f', systemUUID: 'ec2f6b9e-0f8c-4d6c-9f1e-0a1b2c3d4e5f', bootID: '1c0b8a36-3c3e-4a3b-9d2f-6f1f8f0f7a10',
        kernelVersion: '6.1.0-18-amd64', osImage: 'Debian GNU/Linux 12 (bookworm)', containerRuntimeVersion: 'containerd://1.7.13',
        kubeletVersion: 'v1.29.2', kubeProxyVersion: 'v1.29.2', operatingSystem: 'linux', architecture: 'amd64',
      },
      images: [
        { names: ['registry.k8s.io/kube-proxy@sha256:3f0c3d4f9a7c1e0b5e8d2a6b9c4f1e7a2d5b8c0e3f6a9d2c5b8e1f4a7d0c3b6e', 'registry.k8s.io/kube-proxy:v1.29.2'], sizeBytes: 28_351_234 },
        { names: ['ghcr.io/flannel-io/flannel@sha256:9b7e2c4a1f6d3e8b0c5a2f7e4d1b8c3a6f9e2d5c8b1a4f7e0d3c6b9a2f5e8d1c', 'ghcr.io/flannel-io/flannel:v0.28.1'], sizeBytes: 33_412_567 },
        { names: ['registry.k8s.io/pause@sha256:7031c1b283388d2c2e09b57badb803c05ebed362dc88d84b480cc47f72a21097', 'registry.k8s.io/pause:3.9'], sizeBytes: 321_520 },
      ],
    },
  };
}
