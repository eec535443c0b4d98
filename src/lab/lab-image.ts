/**
 * The flannel-ts image a lab runs, built from this checkout: tagged `localhost/flannel-ts:lab-<hash>`, the hash
 * taken over the compiled sources and the package manifests, so an image of other sources (another checkout,
 * an older build) is never used by mistake and an unchanged checkout reuses its image. Built with
 * scripts/build-image.sh (podman; the base made from Debian packages once) when missing; lab images of
 * other sources are removed then.
 */
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { FlannelError } from '../support/errors.js';
import { run } from './shell.js';

export interface LabImage {
  readonly tag: string;
  /** How long building it took; undefined when it was there already. */
  readonly builtInMs?: number;
}

/** `repoRoot` holds package.json, scripts/ and dist/src (built). */
export function ensureLabImage(repoRoot: string, log: (line: string) => void): LabImage {
  const tag = `localhost/flannel-ts:lab-${sourceHash(repoRoot)}`;
  if (run('podman', ['image', 'exists', tag], { allowFailure: true }).status === 0) {
    log(`image ${tag} present (built from these sources)`);
    return { tag };
  }
  log(`building image ${tag} with scripts/build-image.sh (podman)…`);
  const started = Date.now();
  const result = run('bash', [join(repoRoot, 'scripts', 'build-image.sh'), '--tag', tag], { allowFailure: true, timeoutMs: 900_000 });
  if (result.status !== 0) throw new FlannelError('LAB_IMAGE', `building the image failed: ${(result.stderr || result.stdout).trim().slice(-2000)}`);
  const builtInMs = Date.now() - started;
  log(`image built in ${(builtInMs / 1000).toFixed(1)} s: ${result.stdout.trim().split('\n').at(-1) ?? ''}`);
  pruneOlderLabImages(tag);
  return { tag, builtInMs };
}

/** Lab images of other sources go (each is the base plus ~7 MB); one a container still runs stays (no force). */
function pruneOlderLabImages(keep: string): void {
  const tags = run('podman', ['images', '--format', '{{.Repository}}:{{.Tag}}', 'localhost/flannel-ts'], { allowFailure: true }).stdout.split('\n');
  for (const tag of tags) {
    if (/^localhost\/flannel-ts:lab-[0-9a-f]{12}$/.test(tag) && tag !== keep) run('podman', ['rmi', tag], { allowFailure: true });
  }
}

function sourceHash(repoRoot: string): string {
  const hash = createHash('sha256');
  const dist = join(repoRoot, 'dist', 'src');
  const files = readdirSync(dist, { recursive: true }).map(String).filter((file) => file.endsWith('.js')).sort();
  if (files.length === 0) throw new FlannelError('LAB_IMAGE', `no compiled sources under ${dist}: run npm run build`);
  for (const file of [...files.map((file) => join('dist', 'src', file)), 'package.json', 'package-lock.json']) {
    hash.update(file).update('\0').update(readFileSync(join(repoRoot, file))).update('\0');
  }
  return hash.digest('hex').slice(0, 12);
}
