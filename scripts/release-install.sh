#!/bin/sh
# Installs flannel-ts from an unpacked release tarball (scripts/build-release.sh makes it): copies this
# directory to PREFIX/lib/flannel-ts and links flanneld, flannelctl and flannel (the CNI plugin) into
# PREFIX/bin. Needs Node.js >= 20 as `node` on PATH: the commands start with `#!/usr/bin/env node`, and
# systemd units and container runtimes run them with their own PATH, so install node in /usr/bin or
# /usr/local/bin. Nothing else is touched: the systemd unit, env files, CNI config and the CNI plugin link
# are separate steps (see docs/install.md).
# Usage: ./install.sh [--prefix /usr/local]
set -eu

prefix=/usr/local
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix=$2; shift 2 ;;
    --prefix=*) prefix=${1#*=}; shift ;;
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

if ! command -v node >/dev/null 2>&1; then
  echo "install.sh: node not found on PATH; install Node.js 20 or later first" >&2
  exit 1
fi
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 20 ]; then
  echo "install.sh: Node.js $(node --version) found; flannel-ts needs 20 or later" >&2
  exit 1
fi

here=$(cd "$(dirname "$0")" && pwd)
target="$prefix/lib/flannel-ts"
mkdir -p "$prefix/lib" "$prefix/bin"
# Copy beside the old version, then swap, so a failed copy leaves the installed version whole.
rm -rf "$target.new"
cp -R "$here" "$target.new"
rm -f "$target.new/install.sh"
rm -rf "$target.old"
if [ -e "$target" ]; then mv "$target" "$target.old"; fi
mv "$target.new" "$target"
rm -rf "$target.old"
for pair in flanneld:flanneld flannelctl:flannelctl flannel:flannel-cni; do
  ln -sfn "../lib/flannel-ts/dist/src/cmd/${pair#*:}.js" "$prefix/bin/${pair%%:*}"
done
echo "installed flannel-ts $(node -p "require('$target/package.json').version") in $target; commands in $prefix/bin: flanneld, flannelctl, flannel"
