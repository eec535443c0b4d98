/**
 * `flannelctl install-cni`: what upstream's two init containers do, in one command (reference §4.7).
 *
 * - Plugin (`install-cni-plugin`, upstream `cp -f /flannel /opt/cni/bin/flannel`): our plugin is JavaScript, so
 *   the host gets a self-contained copy — the Node runtime this command runs on plus flannel-ts's compiled
 *   sources — in `<dir>/flannel-ts-<content hash>/`, and `<dir>/flannel` becomes a two-line shell wrapper that
 *   runs it. The directory appears by rename and the wrapper is replaced atomically, so a runtime calling the
 *   plugin meanwhile sees the old plugin or the new one; older copies are removed afterwards. Installing the same
 *   content again copies nothing.
 * - Network config (`install-cni`, upstream `install-conf SRC DEST`): SRC copied to DEST through a temporary file
 *   in DEST's directory, fsync, the source's mode, rename. Unlike upstream, SRC must be a JSON object: a broken
 *   conflist would break every pod on the node, so the init container fails instead.
 *
 * File access goes through InstallCniIo (src/adapters/files/cni-install-io.ts); this module decides.
 */
import { FlannelError, errorMessage } from '../support/errors.js';
import { isJsonObject } from '../support/json-fields.js';

export interface InstallCniIo {
  readFile(path: string): Buffer;
  /** The file's permission bits, or undefined when it does not exist. */
  mode(path: string): number | undefined;
  exists(path: string): boolean;
  listDir(path: string): string[];
  /** SHA-256 (hex) over these files' relative paths and contents, in order. */
  hashFiles(root: string, relativePaths: readonly string[]): string;
  /** Relative paths of every file under `root`, sorted. */
  listTree(root: string): string[];
  /** Copies files into a fresh temporary directory beside `destination`, then renames it to `destination`. */
  copyTreeAtomic(files: ReadonlyArray<{ from: string; to: string; mode: number }>, destination: string): void;
  writeFileAtomic(path: string, contents: string | Buffer, mode: number): void;
  removeTree(path: string): void;
}

export interface PluginSource {
  /** The Node runtime (process.execPath). */
  readonly runtime: string;
  /** The compiled sources root (dist/src), containing cmd/flannel-cni.js. */
  readonly sources: string;
  readonly version: string;
}

export interface InstallCniOptions {
  readonly plugin?: { readonly directory: string; readonly source: PluginSource };
  readonly conf?: { readonly source: string; readonly destination: string };
}

export interface InstallCniReport {
  readonly lines: readonly string[];
}

const PLUGIN_NAME = 'flannel';
const BUNDLE_PREFIX = 'flannel-ts-';

export function installCni(options: InstallCniOptions, io: InstallCniIo): InstallCniReport {
  if (!options.plugin && !options.conf) throw new FlannelError('BAD_USAGE', 'install-cni: nothing to install (give --plugin-dir and/or --conf with --conf-dest)');
  const lines: string[] = [];
  if (options.plugin) lines.push(...installPlugin(options.plugin.directory, options.plugin.source, io));
  if (options.conf) lines.push(installConf(options.conf.source, options.conf.destination, io));
  return { lines };
}

function installPlugin(directory: string, source: PluginSource, io: InstallCniIo): string[] {
  const entry = 'cmd/flannel-cni.js';
  if (!io.exists(`${source.sources}/${entry}`)) throw new FlannelError('INSTALL_CNI', `install-cni: ${source.sources}/${entry} not found`);
  const sourceFiles = io.listTree(source.sources).filter((path) => path.endsWith('.js'));
  const hash = io.hashFiles(source.sources, sourceFiles).slice(0, 8) + io.hashFiles(source.runtime, ['']).slice(0, 4);
  const bundle = `${BUNDLE_PREFIX}${hash}`;
  const lines: string[] = [];
  if (io.exists(`${directory}/${bundle}`)) {
    lines.push(`plugin ${directory}/${bundle} already installed`);
  } else {
    const files = [
      { from: source.runtime, to: 'node', mode: 0o755 },
      ...sourceFiles.map((path) => ({ from: `${source.sources}/${path}`, to: `src/${path}`, mode: 0o644 })),
    ];
    io.copyTreeAtomic(files, `${directory}/${bundle}`);
    io.writeFileAtomic(`${directory}/${bundle}/package.json`, '{"type":"module"}\n', 0o644);
    lines.push(`plugin copied to ${directory}/${bundle} (${files.length} files)`);
  }
  const wrapper = pluginWrapper(bundle, source.version);
  const current = io.exists(`${directory}/${PLUGIN_NAME}`) ? io.readFile(`${directory}/${PLUGIN_NAME}`).toString('utf8') : undefined;
  if (current !== wrapper) {
    io.writeFileAtomic(`${directory}/${PLUGIN_NAME}`, wrapper, 0o755);
    lines.push(`plugin ${directory}/${PLUGIN_NAME} → ${bundle}`);
  }
  for (const name of io.listDir(directory)) {
    if (name.startsWith(BUNDLE_PREFIX) && name !== bundle && /^flannel-ts-[0-9a-f]{12}$/.test(name)) {
      io.removeTree(`${directory}/${name}`);
      lines.push(`removed the older plugin copy ${directory}/${name}`);
    }
  }
  return lines;
}

/** The `<dir>/flannel` executable: runs the bundled runtime on the bundled plugin, wherever `<dir>` is mounted. */
export function pluginWrapper(bundle: string, version: string): string {
  return [
    '#!/bin/sh',
    `# flannel CNI plugin of flannel-ts ${version}, installed by \`flannelctl install-cni\`; do not edit.`,
    `exec "\${0%/*}/${bundle}/node" "\${0%/*}/${bundle}/src/cmd/flannel-cni.js" "$@"`,
    '',
  ].join('\n');
}

function installConf(source: string, destination: string, io: InstallCniIo): string {
  let contents: Buffer;
  try {
    contents = io.readFile(source);
  } catch (error) {
    throw new FlannelError('INSTALL_CNI', `error installing ${JSON.stringify(source)}: ${errorMessage(error)}`);
  }
  let document: unknown;
  try {
    document = JSON.parse(contents.toString('utf8'));
  } catch (error) {
    throw new FlannelError('INSTALL_CNI', `error installing ${JSON.stringify(source)}: not JSON: ${errorMessage(error)}`);
  }
  if (!isJsonObject(document)) throw new FlannelError('INSTALL_CNI', `error installing ${JSON.stringify(source)}: a CNI network config must be a JSON object`);
  io.writeFileAtomic(destination, contents, io.mode(source) ?? 0o644);
  return `network config ${source} installed as ${destination}`;
}
