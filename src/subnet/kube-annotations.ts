/**
 * The node annotation names flannel reads and writes in Kubernetes mode (reference §4.2), from
 * `--kube-annotation-prefix`, normalised exactly as upstream's newAnnotations: at most one `/`; none → append
 * `/`; a prefix ending in neither `/` nor `-` gets `-`; the result must then match upstream's (start-unanchored)
 * pattern `(?:[a-z0-9_-]+\.)+[a-z0-9_-]+/(?:[a-z0-9_-]+-)?$`. Errors carry upstream's exact texts. Pure.
 */
import { FlannelError } from '../support/errors.js';

export const DEFAULT_ANNOTATION_PREFIX = 'flannel.alpha.coreos.com';

export interface KubeAnnotations {
  /** The normalised prefix every name below starts with (e.g. `flannel.alpha.coreos.com/`). */
  readonly prefix: string;
  readonly subnetKubeManaged: string;
  readonly backendData: string;
  readonly backendV6Data: string;
  readonly backendType: string;
  readonly backendPublicIP: string;
  readonly backendPublicIPv6: string;
  /** User input: overrides --public-ip at start-up. */
  readonly backendNodePublicIP: string;
  readonly backendNodePublicIPv6: string;
  /** User input: published as public-ip instead of ours (a node behind NAT). */
  readonly backendPublicIPOverwrite: string;
  readonly backendPublicIPv6Overwrite: string;
}

// Go's regexp.MatchString is unanchored at the start, so is this (an upper-case host part still matches).
const PREFIX_PATTERN = /(?:[a-z0-9_-]+\.)+[a-z0-9_-]+\/(?:[a-z0-9_-]+-)?$/;

/** Throws FlannelError('BAD_ANNOTATION_PREFIX') with upstream's message. */
export function kubeAnnotations(rawPrefix: string): KubeAnnotations {
  const slashes = rawPrefix.split('/').length - 1;
  if (slashes > 1) throw new FlannelError('BAD_ANNOTATION_PREFIX', 'subnet/kube: prefix can contain at most single slash');
  let prefix = slashes === 0 ? rawPrefix + '/' : rawPrefix;
  if (!prefix.endsWith('/') && !prefix.endsWith('-')) prefix += '-';
  if (!PREFIX_PATTERN.test(prefix)) {
    throw new FlannelError('BAD_ANNOTATION_PREFIX', 'subnet/kube: prefix must be in a format: fqdn/[0-9a-z-_]*');
  }
  return {
    prefix,
    subnetKubeManaged: prefix + 'kube-subnet-manager',
    backendData: prefix + 'backend-data',
    backendV6Data: prefix + 'backend-v6-data',
    backendType: prefix + 'backend-type',
    backendPublicIP: prefix + 'public-ip',
    backendPublicIPv6: prefix + 'public-ipv6',
    backendNodePublicIP: prefix + 'node-public-ip',
    backendNodePublicIPv6: prefix + 'node-public-ipv6',
    backendPublicIPOverwrite: prefix + 'public-ip-overwrite',
    backendPublicIPv6Overwrite: prefix + 'public-ipv6-overwrite',
  };
}
