/** The flannel-ts version, printed by `--version` and the CNI plugin's VERSION string. */
export const VERSION = '0.1.0';
