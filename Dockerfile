# The flannel-ts image: flanneld (entrypoint), flannelctl (install-cni for the DaemonSet's init containers) and
# the flannel CNI plugin, on a Node 20 base. Build it with scripts/build-image.sh, which stages the build context
# (compiled sources and production node_modules) and, where no container registry is reachable, makes the base
# image from Debian packages. By hand: stage with the script's --stage-only, then
#   podman build --build-arg BASE_IMAGE=docker.io/library/node:20-bookworm-slim -t flannel-ts -f Dockerfile STAGE
ARG BASE_IMAGE=docker.io/library/node:20-bookworm-slim
FROM ${BASE_IMAGE}

# The tools flanneld drives (iptables-restore / nft for the firewall rules). The base made from Debian packages
# already has them, so this needs no network there; on the production base it installs them.
RUN if ! command -v iptables-restore >/dev/null || ! command -v nft >/dev/null || ! command -v ip >/dev/null; then \
      apt-get update && apt-get install -y --no-install-recommends iptables nftables iproute2 ca-certificates \
      && rm -rf /var/lib/apt/lists/*; \
    fi \
    && node --version | grep -q '^v2[0-9]\.' || { echo "flannel-ts needs Node 20 or newer in the base image" >&2; exit 1; }

COPY . /opt/flannel-ts
RUN mkdir -p /opt/bin \
    && ln -sf /opt/flannel-ts/dist/src/cmd/flanneld.js /opt/bin/flanneld \
    && ln -sf /opt/flannel-ts/dist/src/cmd/flannelctl.js /opt/bin/flannelctl \
    && ln -sf /opt/flannel-ts/dist/src/cmd/flannel-cni.js /opt/bin/flannel \
    && /opt/bin/flanneld --version

ENTRYPOINT ["/opt/bin/flanneld"]
