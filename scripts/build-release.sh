#!/usr/bin/env bash
# Builds the release tarball for hosts that have Node.js (>= 20) but no npm:
#   dist/release/flannel-ts-<version>-linux-<arch>.tar.gz
# It holds exactly what `npm pack` ships (the compiled commands, deploy/ files, docs), the production
# node_modules (koffi with this machine's prebuilt binary, pino), and install.sh. Build it on the architecture
# it is for (koffi's binary is per architecture). Needs npm and the npm registry or npm's cache.
# Usage: scripts/build-release.sh [--skip-build] [--out DIR]
set -euo pipefail
cd "$(dirname "$0")/.."

out=dist/release
build=true
while [ $# -gt 0 ]; do
  case "$1" in
    --skip-build) build=false; shift ;;
    --out) out=$2; shift 2 ;;
    --out=*) out=${1#*=}; shift ;;
    -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-release.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

version=$(node -p 'require("./package.json").version')
name="flannel-ts-$version-linux-$(node -p 'process.arch')"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if $build; then npm run build --silent; fi
# The build already ran (or was skipped on purpose): pack without running prepack again.
npm pack --ignore-scripts --silent --pack-destination "$work" >/dev/null
tar -xzf "$work/flannel-ts-$version.tgz" -C "$work"
mv "$work/package" "$work/$name"
cp package-lock.json "$work/$name/"
# koffi's install script only looks for the prebuilt binary that its per-platform package already ships.
(cd "$work/$name" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --prefer-offline --loglevel=error)
cp scripts/release-install.sh "$work/$name/install.sh"
chmod 755 "$work/$name/install.sh"

mkdir -p "$out"
tar -C "$work" --owner=0 --group=0 -czf "$out/$name.tar.gz" "$name"
echo "$out/$name.tar.gz"
