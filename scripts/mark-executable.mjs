// Makes the compiled entry points executable (npm does this for installed bins, not for a local build).
import { chmodSync, existsSync } from 'node:fs';
for (const file of ['dist/src/cmd/flanneld.js', 'dist/src/cmd/flannelctl.js', 'dist/src/cmd/flannel-cni.js']) {
  if (existsSync(file)) chmodSync(file, 0o755);
}
