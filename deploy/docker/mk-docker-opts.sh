#!/bin/sh
# Drop-in replacement for flannel's mk-docker-opts.sh: same flags (-f -d -i -c -k -m), same output file.
# It runs `flannelctl docker-opts`, found next to this script (npm package or release tarball layout) or on PATH.
set -e
self=$(readlink -f "$0" 2>/dev/null || echo "$0")
bundled="$(dirname "$self")/../../dist/src/cmd/flannelctl.js"
if [ -f "$bundled" ]; then
	exec node "$bundled" docker-opts "$@"
fi
if command -v flannelctl >/dev/null 2>&1; then
	exec flannelctl docker-opts "$@"
fi
echo "mk-docker-opts.sh: flannelctl not found (looked at $bundled and on PATH)" >&2
exit 1
