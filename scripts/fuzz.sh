#!/usr/bin/env bash
# Builds the libFuzzer targets with clang-14 in build-fuzz/ and runs each for
# a bounded time (default 60 s): the ONNX importer seeded with the ONNX node
# tests' models, the package reader seeded with the runtime tests' packages.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${NURI_FUZZ_BUILD_DIR:-$root/build-fuzz}
seconds=${1:-60}
"$root/scripts/install-deps.sh"
if [ ! -f "$build/CMakeCache.txt" ]; then
  CC=clang-14 CXX=clang++-14 cmake -S "$root" -B "$build" -G Ninja \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNURI_BUILD_FUZZERS=ON -DNURI_BUILD_TESTS=OFF
fi
cmake --build "$build" --target nuri-fuzz-import
corpus="$build/corpus/import"
mkdir -p "$corpus"
if [ -z "$(ls -A "$corpus")" ]; then
  for dir in /usr/share/libonnx-testdata/data/node/test_{add,matmul_2d,gemm_default_no_bias,softmax_example,reshape_negative_dim,slice,layer_normalization_2d_axis0}; do
    [ -f "$dir/model.onnx" ] && cp "$dir/model.onnx" "$corpus/$(basename "$dir").onnx"
  done
fi
"$build/bin/nuri-fuzz-import" -max_total_time="$seconds" -rss_limit_mb=4096 "$corpus"

# The .nuri package reader (and the .npy parser).
flock /tmp/nuri-build.lock cmake --build "$build" --target nuri-fuzz-package nuri-fuzz-package-seeds
corpus="$build/corpus/package"
mkdir -p "$corpus"
if [ -z "$(ls -A "$corpus")" ]; then
  "$build/bin/nuri-fuzz-package-seeds" "$corpus"
fi
"$build/bin/nuri-fuzz-package" -max_total_time="$seconds" -rss_limit_mb=4096 "$corpus"
