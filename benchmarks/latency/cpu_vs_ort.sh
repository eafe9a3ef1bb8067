#!/usr/bin/env bash
# CPU latency of zoo bert-base (seq 128, batch 1) and gpt2-small (seq 128) on
# Nuri's CPU device against ONNX Runtime's CPU provider: the same ONNX file,
# the same machine, the same thread count, in one run. Prints ratios.
#
#   benchmarks/latency/cpu_vs_ort.sh [BUILD_DIR] [THREADS]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build}
threads=${2:-$(nproc)}
work="$build/bench-latency"
mkdir -p "$work"

# ONNX Runtime from npm (its install script only fetches GPU extras).
if [ ! -d "$work/node_modules/onnxruntime-node" ]; then
  (cd "$work" && npm install --silent --ignore-scripts onnxruntime-node >/dev/null)
fi
export NODE_PATH="$work/node_modules"

nuri="$build/bin/nuri"
bench="$build/bin/nuri-bench-run"
ort="$root/benchmarks/ort/ort_latency.js"
median() { sed 's/.*"median_ms":\([0-9.]*\).*/\1/'; }

run_model() {
  local name=$1; shift
  local model="$work/$name.onnx"
  [ -f "$model" ] || "$nuri" zoo "$name" -o "$model" >/dev/null
  local shapes=() ortInputs=()
  for spec in "$@"; do
    shapes+=(--input-shape "$spec"); ortInputs+=(--input "$spec")
  done
  "$nuri" compile "$model" --target cpu "${shapes[@]}" -o "$work/$name.nuri"
  local nuriMs ortMs
  nuriMs=$("$bench" "$work/$name.nuri" --device cpu --threads "$threads" --iters 20 | median)
  ortMs=$(node "$ort" "$model" --threads "$threads" --iters 20 "${ortInputs[@]}" | median)
  awk -v n="$name" -v a="$nuriMs" -v b="$ortMs" -v t="$threads" 'BEGIN {
    printf "cpu latency %s seq128 threads=%d: nuri %.1f ms, onnxruntime %.1f ms, ratio %.2fx (goal <= 1.00x)\n", n, t, a, b, a / b }'
}

run_model bert-base input_ids=1x128 attention_mask=1x128 token_type_ids=1x128
run_model gpt2-small input_ids=1x128 attention_mask=1x128
