#!/usr/bin/env bash
# Quick start 2 and CI: install what is missing, build, run every test through ctest.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${NURI_BUILD_DIR:-$root/build}
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh"
cd "$build"
ctest --output-on-failure -j "${NURI_JOBS:-$(nproc)}"
