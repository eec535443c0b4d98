#!/usr/bin/env bash
# Builds the flannel-ts container image with podman, with no container registry in reach:
#   1. the base image, unless --base names one: a minimal Debian 12 made by mmdebstrap from Debian's packages
#      (iproute2, iptables, nftables, ca-certificates, libstdc++6), with this machine's Node runtime as
#      /usr/local/bin/node (Debian 12 ships Node 18; flannel-ts needs 20), imported with `podman import`;
#      it is built once and reused (localhost/flannel-ts-base:bookworm-node<major>);
#   2. the build context: `npm run build`, the compiled sources, package.json and production node_modules;
#   3. `podman build` of ./Dockerfile on that base, tagged localhost/flannel-ts:<version> (see --tag).
# With a registry at hand, --base docker.io/library/node:20-bookworm-slim builds the production image.
#
# usage: scripts/build-image.sh [--base IMAGE] [--tag TAG] [--stage-only DIR] [--rebuild-base]
# Needs root, podman and mmdebstrap (scripts/setup.sh installs them). Prints the image and its size at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

base='' tag='' stage_only='' rebuild_base=0
while [ $# -gt 0 ]; do
  case "$1" in
    --base) base=$2; shift 2 ;;
    --tag) tag=$2; shift 2 ;;
    --stage-only) stage_only=$2; shift 2 ;;
    --rebuild-base) rebuild_base=1; shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "build-image.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
version=$(node -p 'require("./package.json").version')
tag=${tag:-localhost/flannel-ts:$version}
node_major=$(node -p 'process.versions.node.split(".")[0]')
started=$(date +%s)

stage() {
  local dir=$1
  npm run build --silent
  rm -rf "$dir" && mkdir -p "$dir/dist"
  cp -r dist/src "$dir/dist/src"
  find "$dir/dist" -name '*.map' -delete
  cp package.json package-lock.json "$dir/"
  (cd "$dir" && npm ci --omit=dev --no-audit --no-fund --loglevel=error)
  rm -f "$dir/package-lock.json"
}

if [ -n "$stage_only" ]; then
  stage "$stage_only"
  echo "build-image.sh: build context staged in $stage_only"
  exit 0
fi

if [ "$(id -u)" != 0 ]; then echo "build-image.sh: run as root (podman, mmdebstrap)" >&2; exit 1; fi
command -v podman >/dev/null || { echo "build-image.sh: podman is missing (scripts/setup.sh installs it)" >&2; exit 1; }

work=$(mktemp -d /tmp/flannel-ts-image.XXXXXX)
trap 'rm -rf "$work"' EXIT

if [ -z "$base" ]; then
  base="localhost/flannel-ts-base:bookworm-node$node_major"
  if [ "$rebuild_base" = 1 ] || ! podman image exists "$base"; then
    command -v mmdebstrap >/dev/null || { echo "build-image.sh: mmdebstrap is missing (scripts/setup.sh installs it)" >&2; exit 1; }
    echo "build-image.sh: making $base from Debian packages (mmdebstrap)"
    mmdebstrap --quiet --variant=minbase --include=iproute2,iptables,nftables,ca-certificates,libstdc++6 \
      --customize-hook="copy-in $(command -v node) /usr/local/bin" \
      --customize-hook='rm -rf "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/* "$1"/usr/share/doc/* "$1"/usr/share/man/* "$1"/usr/share/locale/*' \
      bookworm "$work/base.tar"
    podman import --quiet --change 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/bin:/usr/sbin:/bin:/sbin' "$work/base.tar" "$base" >/dev/null
  fi
fi

stage "$work/context"
podman build --quiet --network=none --build-arg "BASE_IMAGE=$base" -t "$tag" -f Dockerfile "$work/context" >/dev/null
size=$(podman image inspect "$tag" --format '{{.Size}}')
echo "build-image.sh: built $tag on $base ($((size / 1000000)) MB) in $(( $(date +%s) - started )) s"
