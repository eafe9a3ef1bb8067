#!/usr/bin/env bash
# Quick start 1: install what is missing, build, and run the demo end to end.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${NURI_BUILD_DIR:-$root/build}
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh"

nuri="$build/bin/nuri"
out="$build/demo"
model="$build/models/bert-tiny.onnx" # made by the build: `nuri zoo bert-tiny`
shapes=(--input-shape input_ids=1x128 --input-shape attention_mask=1x128
        --input-shape token_type_ids=1x128)
mkdir -p "$out"
echo "== nuri inspect: the bundled BERT export, as torch.onnx.export lays it out"
"$nuri" inspect "$model" "${shapes[@]}"
echo
echo "== nuri import: ONNX -> nuri dialect, shapes pinned, patterns fused"
"$nuri" import "$model" "${shapes[@]}" -o "$out/bert-tiny.mlir"
"$nuri" import "$model" "${shapes[@]}" --elide-weights | grep -E "nuri\.(attention|layer_norm|gelu)" | head -3
echo "wrote $out/bert-tiny.mlir"
echo
echo "== nuri compile --target cpu, then nuri run on the CPU device"
"$nuri" compile "$model" --target cpu "${shapes[@]}" -o "$out/bert-tiny-cpu.nuri"
"$nuri" run "$out/bert-tiny-cpu.nuri" --device cpu --output-dir "$out/cpu"
echo
echo "== nuri compile --target atom (bf16), then nuri run on the simulated NPU"
"$nuri" compile "$model" --target atom --dtype bf16 "${shapes[@]}" -o "$out/bert-tiny-atom.nuri" --report
"$nuri" run "$out/bert-tiny-atom.nuri" --device sim --output-dir "$out/sim"
echo
echo "== nuri run --repeat 3: the sim device keeps the weights in its DRAM, so only run 1 writes them"
"$nuri" run "$out/bert-tiny-atom.nuri" --device sim --repeat 3 --json | python3 -c '
import json, sys
for i, r in enumerate(json.load(sys.stdin)["runs"], 1):
    c = r["counters"]
    print("run %d: %d cycles, %d weight bytes written, %.1f ms" % (i, c["cycles"], c["device_weight_bytes_written"], c["wall_seconds"] * 1e3))'
echo
gen_model="${NURI_SHARED_DIR:-$root/../shared}/models/gpt2-bytes-trained/model.onnx"
if [ -f "$gen_model" ]; then
  echo "== nuri compile --generate: a byte-level GPT-2 trained on real text, as prefill and decode"
  echo "   programs sharing one weight blob and a KV cache kept in place; then nuri generate"
  "$nuri" compile "$gen_model" --generate --max-seq 128 -o "$out/gpt2-bytes.nuri" --report
  "$nuri" generate "$out/gpt2-bytes.nuri" --device cpu --tokenizer bytes --max-new-tokens 48 \
    --prompt "This program is distributed in the hope" --prompt "Permission is hereby granted"
  echo
  echo "== nuri compile --quantize int8 --smoothquant: calibrated on 64 windows of training text,"
  echo "   SmoothQuant folded into the norms, the head kept float; the same prompt"
  calib="$(dirname "$gen_model")/calib.npy"
  "$nuri" compile "$gen_model" --generate --max-seq 128 --quantize int8 --smoothquant 0.5 \
    --calibration "$calib" --calibration-cache "$out/gpt2-bytes.calib.json" \
    -o "$out/gpt2-bytes-int8.nuri" --report | grep -A2 "^quantization"
  "$nuri" generate "$out/gpt2-bytes-int8.nuri" --device cpu --tokenizer bytes --max-new-tokens 48 \
    --prompt "This program is distributed in the hope"
  echo
  echo "== the same int8 model for atom: its products on the NPU's int8 tiles (npu.quantized_gemm),"
  echo "   run on the simulated chip from the cached calibration"
  "$nuri" compile "$gen_model" --target atom --generate --max-seq 128 --quantize int8 --smoothquant 0.5 \
    --calibration "$calib" --calibration-cache "$out/gpt2-bytes.calib.json" \
    -o "$out/gpt2-bytes-int8-atom.nuri"
  "$nuri" generate "$out/gpt2-bytes-int8-atom.nuri" --device sim --tokenizer bytes --max-new-tokens 48 \
    --prompt "This program is distributed in the hope"
  echo
  if [ -d "$build/python/nuri" ]; then
    echo "== the same from Python (import nuri): compile the generation package, stream the tokens"
    PYTHONPATH="$build/python" /usr/bin/python3 "$root/examples/python/generate.py" \
      --model-dir "$(dirname "$gen_model")" --max-new-tokens 32
    echo
  fi
fi
echo "== models bigger than this machine: llama-7b's graph without its weights (2 of its 32 layers"
echo "   here, to stay quick), compiled --timing-only for rngd and generated on the sim device at batch 8"
"$nuri" zoo llama-7b --layers 2 --with-past --shapes-only -o "$out/llama-7b-2l.onnx"
"$nuri" compile "$out/llama-7b-2l.onnx" --target rngd --generate --max-seq 512 --prefill-buckets 128 \
  --decode-batch 8 --context-buckets 512 --timing-only -o "$out/llama-7b-2l.nuri"
"$nuri" generate "$out/llama-7b-2l.nuri" --device sim --timing-only --prompt-len 128 --max-new-tokens 16 --batch 8
echo
echo "== nuri sweep: a small grid of chip configs (cores, SRAM, DRAM bandwidth), then its report"
"$nuri" sweep "$root/examples/sweeps/bert-tiny-grid.yaml" -o "$out/sweep" --quiet
"$nuri" report "$out/sweep" -o "$out/sweep/report.html"
echo "open $out/sweep/report.html: Pareto fronts of latency against area and energy, roofline, per-layer bottlenecks"
