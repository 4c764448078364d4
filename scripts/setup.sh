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
# Not `npm ci`: npm 11 writes lockfiles without the entries of other platforms' optional packages (biome's
# per-platform binaries) and then refuses them in `npm ci`. `npm install --no-save` installs the locked versions.
npm install --no-save --no-audit --no-fund --loglevel=error
npm run --silent build

labctl() { node dist/labctl.mjs "$@"; }
echo "== system packages (labctl host install)"
labctl host install
echo "== control plane (labctl host start)"
labctl host start
echo "== default node image (labctl image build)"
labctl image build
labctl host check
