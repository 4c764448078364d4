#!/usr/bin/env bash
# Set up this machine for labctl from a fresh Debian/Ubuntu host: npm packages, the build, the system packages
# (Docker, Open vSwitch, OVN, ethtool, iproute2 …), the embedded control plane (dockerd, OVS userspace datapath,
# OVN central + ovn-controller) and the default node image. Idempotent: re-running it changes nothing that is up.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
  echo "error: setup needs root (it installs packages and starts dockerd, OVS and OVN)" >&2
  echo "fix: sudo bash scripts/setup.sh" >&2
  exit 2
fi

echo "== npm packages and build"
# `npm ci`, as CI does: exactly the locked versions into a fresh node_modules. The lockfile records every platform's
# optional packages (biome's and esbuild's per-platform binaries); `npm ci` refuses a lockfile that lacks any of them.
npm ci --no-audit --no-fund --loglevel=error
npm run --silent build

labctl() { node dist/labctl.mjs "$@"; }
echo "== system packages (labctl host install)"
labctl host install
echo "== test tools (chromium: the graph tests open labctl graph's HTML page offline; rsvg-convert: the scenario timeline test renders labctl run --plot's SVG to PNG; openssh-server: the remote-chassis test)"
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium fonts-dejavu-core)
command -v rsvg-convert >/dev/null 2>&1 || missing+=(librsvg2-bin)
# sshd, ssh and ssh-keygen: the remote-chassis test runs an sshd in a namespace as its "remote machine"
command -v /usr/sbin/sshd >/dev/null 2>&1 || missing+=(openssh-server)
command -v ssh-keygen >/dev/null 2>&1 || missing+=(openssh-client)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
if [ "${#missing[@]}" -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
echo "== control plane (labctl host start)"
labctl host start
echo "== default node image (labctl image build)"
labctl image build
labctl host check
