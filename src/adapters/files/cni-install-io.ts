/** The file operations `flannelctl install-cni` needs (InstallCniIo), on the real file system. */
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { InstallCniIo } from '../../cni/install-cni.js';
import { writeFileAtomic } from './atomic-file.js';

export const cniInstallIo: InstallCniIo = {
  readFile: (path) => readFileSync(path),
  mode(path) {
    try {
      return statSync(path).mode & 0o7777;
    } catch {
      return undefined;
    }
  },
  exists: (path) => existsSync(path),
  listDir: (path) => (existsSync(path) ? readdirSync(path) : []),
  hashFiles(root, relativePaths) {
    const hash = createHash('sha256');
    for (const path of relativePaths) {
      hash.update(path + '\0');
      hash.update(readFileSync(path === '' ? root : join(root, path)));
    }
    return hash.digest('hex');
  },
  listTree: (root) => readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath ?? entry.path, entry.name).slice(root.length + 1))
    .sort(),
  copyTreeAtomic(files, destination) {
    const temporary = join(dirname(destination), `.${basename(destination)}.${randomBytes(4).toString('hex')}.tmp`);
    try {
      for (const file of files) {
        const target = join(temporary, file.to);
        mkdirSync(dirname(target), { recursive: true, mode: 0o755 });
        copyFileSync(file.from, target);
        chmodSync(target, file.mode);
      }
      renameSync(temporary, destination);
    } catch (error) {
      rmSync(temporary, { recursive: true, force: true });
      throw error;
    }
  },
  writeFileAtomic: (path, contents, mode) => writeFileAtomic(path, contents, mode),
  removeTree: (path) => rmSync(path, { recursive: true, force: true }),
};
