/**
 * CNI spec versions, pure: the versions upstream's plugin accepts (libcni's version.All), the version a config
 * without `cniVersion` means (0.1.0, as libcni decodes it), and ordering as libcni's ParseVersion/
 * GreaterThanOrEqualTo (up to three numeric parts; missing parts are 0).
 */
import { CNI_ERROR, CniConfigError } from './delegate-config.js';

export const SUPPORTED_VERSIONS = ['0.1.0', '0.2.0', '0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] as const;

/** The version this plugin speaks when the input says none (VERSION output, early errors). */
export const PREFERRED_VERSION = '1.1.0';

/** A config without `cniVersion` is a 0.1.0 config. */
export const IMPLIED_VERSION = '0.1.0';

/** CHECK exists from this version on. */
export const CHECK_SINCE = '0.4.0';

/** [major, minor, micro]; CniConfigError(decodeFailure) naming the text when it is no version. */
export function parseCniVersion(text: string): [number, number, number] {
  if (text === '') return [0, 1, 0];
  const parts = text.split('.');
  if (parts.length > 3 || parts.some((part) => !/^[+-]?\d{1,9}$/.test(part))) {
    throw new CniConfigError(CNI_ERROR.decodeFailure, `invalid CNI version ${JSON.stringify(text)}`);
  }
  const [major = 0, minor = 0, micro = 0] = parts.map(Number);
  return [major, minor, micro];
}

/** Whether `version` ≥ `other`. */
export function versionAtLeast(version: string, other: string): boolean {
  const a = parseCniVersion(version);
  const b = parseCniVersion(other);
  for (let index = 0; index < 3; index++) {
    if ((a[index] as number) !== (b[index] as number)) return (a[index] as number) > (b[index] as number);
  }
  return true;
}

/** Throws CniConfigError(incompatibleVersion) unless the plugin supports exactly this version. */
export function requireSupportedVersion(version: string): void {
  if (!(SUPPORTED_VERSIONS as readonly string[]).includes(version)) {
    throw new CniConfigError(CNI_ERROR.incompatibleVersion, 'incompatible CNI versions',
      `config is ${JSON.stringify(version)}, plugin supports [${SUPPORTED_VERSIONS.map((v) => JSON.stringify(v)).join(' ')}]`);
  }
}
