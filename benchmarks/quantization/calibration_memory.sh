#!/usr/bin/env bash
# Peak memory of `nuri compile --quantize int8` calibrating zoo gpt2-small on
# 64 sets of 128 tokens, as a ratio to the model's size (issue 11's goal:
# under 2x), next to a plain compile of the same model measured in the same
# run (the part of the peak that calibration does not add).
#
#   benchmarks/quantization/calibration_memory.sh [BUILD_DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build}
work="$build/bench-quantization"
mkdir -p "$work"
nuri="$build/bin/nuri"
model="$work/gpt2-small.onnx"
[ -f "$model" ] || "$nuri" zoo gpt2-small -o "$model" >/dev/null
# 64 windows of token ids: the statistics' size does not depend on the
# text, only on the layers, so random ids measure the same memory.
/usr/bin/python3 -c "
import numpy as np
np.save('$work/calib.npy', np.random.default_rng(0).integers(0, 50257, (64, 128)))"
shapes=(--input-shape input_ids=1x128 --input-shape attention_mask=1x128)
peak_kb() { # peak resident KB of a command
  /usr/bin/time -f "%M" -o "$work/time.txt" "$@" >/dev/null
  cat "$work/time.txt"
}
plain=$(peak_kb "$nuri" compile "$model" "${shapes[@]}" -o "$work/fp32.nuri")
SECONDS=0
calib=$(peak_kb "$nuri" compile "$model" "${shapes[@]}" --quantize int8 \
  --calibration "$work/calib.npy" -o "$work/int8.nuri")
seconds=$SECONDS
size=$(stat -c %s "$model")
awk -v p="$plain" -v c="$calib" -v s="$size" -v t="$seconds" 'BEGIN {
  printf "calibration memory gpt2-small int8 64 sets x 128 tokens: peak %.2f GB, model %.2f GB, ratio %.2fx (goal <= 2.00x); plain compile peak %.2f GB, ratio %.2fx; calibration compile %.0f s\n",
    c * 1024 / 1e9, s / 1e9, c * 1024 / s, p * 1024 / 1e9, p * 1024 / s, t }'
