#!/usr/bin/env bash
# The main job on a fresh machine: set everything up, bring the default lab.yml up and prove it with doctor.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
node dist/labctl.mjs up -f "${1:-lab.yml}"
node dist/labctl.mjs doctor -f "${1:-lab.yml}"
