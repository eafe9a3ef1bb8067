#!/usr/bin/env bash
# Quick start 1: install what is missing, build, and run the demo end to end.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${NURI_BUILD_DIR:-$root/build}
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh"

nuri="$build/bin/nuri"
out="$build/demo"
mkdir -p "$out"
echo "== nuri zoo bert-tiny: a BERT export laid out as torch.onnx.export writes it"
"$nuri" zoo bert-tiny -o "$out/bert-tiny.onnx"
echo "== nuri inspect: what the model holds"
"$nuri" inspect "$out/bert-tiny.onnx" --input-shape input_ids=1x128 --input-shape attention_mask=1x128
echo "== nuri import: ONNX -> nuri dialect, shapes pinned, patterns fused"
"$nuri" import "$out/bert-tiny.onnx" --input-shape input_ids=1x128 \
  --input-shape attention_mask=1x128 -o "$out/bert-tiny.mlir"
echo "wrote $out/bert-tiny.mlir"
"$nuri" inspect "$out/bert-tiny.mlir"
