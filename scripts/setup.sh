#!/usr/bin/env bash
# Installs everything flannel-ts needs on a Debian 12 machine (run as root) and builds it:
# Debian packages for the real servers and tools the lab and tests use, then `npm ci` and the TypeScript build.
# Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
  echo "setup.sh: run as root (it installs Debian packages; the lab and tests need network namespaces)" >&2
  exit 1
fi

packages=(etcd-server etcd-client iproute2 iptables ipset nftables containernetworking-plugins iperf3 iputils-ping tcpdump openssl procps ca-certificates
  systemd docker.io busybox-static)
# The image (scripts/build-image.sh): podman, and mmdebstrap to make its base from Debian packages.
packages+=(podman mmdebstrap uidmap)
# wireguard-go: the userspace WireGuard device where the kernel has none; wireguard-tools: `wg` for checks by hand
# and tests. Always --no-install-recommends (as below): wireguard-tools recommends a kernel image.
packages+=(wireguard-go wireguard-tools)
command -v node >/dev/null 2>&1 || packages+=(nodejs npm)
# kubectl is the independent client of the fake API server's contract test; Debian's (1.20) if there is none.
command -v kubectl >/dev/null 2>&1 || packages+=(kubernetes-client)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # docker.io and containerd start their daemons on install; the tests run their own dockerd inside lab
  # namespaces and nothing may touch the root namespace's network, so services stay stopped during install.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  echo "setup.sh: warning: Node $(node --version) found; flannel-ts is built and tested on Node 20" >&2
fi

npm ci --no-audit --no-fund --loglevel=error
npm run build --silent
echo "setup.sh: ready (node $(node --version), etcd $(etcd --version | head -1 | awk '{print $3}'))"
