#!/usr/bin/env bash
# Configures and builds Nuri into ${NURI_BUILD_DIR:-build}. Shared by the demo, the test
# command and CI so that all three build the same way.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${NURI_BUILD_DIR:-$root/build}
jobs=${NURI_JOBS:-$(nproc)}

if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=${NURI_BUILD_TYPE:-Release}
fi
cmake --build "$build" -j "$jobs"
