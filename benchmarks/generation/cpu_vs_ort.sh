#!/usr/bin/env bash
# Generation on the CPU: zoo gpt2-small --with-past, a 32-token prompt, 128
# new tokens, batch 1, greedy. `nuri generate --device cpu` against ONNX
# Runtime's CPU provider running the same ONNX file the way optimum does
# (prefill with an empty past, then one run per token with present fed back
# as past), in one run on the same machine. Prints tokens/s and the ratio
# (issue 10's goal: nuri >= 1.5x onnxruntime), overall and decode-only.
#
#   benchmarks/generation/cpu_vs_ort.sh [BUILD_DIR] [THREADS]
#
# nuri's CPU device runs on a oneTBB arena of all cores; THREADS (default 2,
# this machine's cores) is what ONNX Runtime gets, so keep it at nproc.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build}
threads=${2:-2}
work="$build/bench-generation"
mkdir -p "$work"

# ONNX Runtime from npm (its install script only fetches GPU extras).
if [ ! -d "$work/node_modules/onnxruntime-node" ]; then
  (cd "$work" && npm install --silent --ignore-scripts onnxruntime-node >/dev/null)
fi
export NODE_PATH="$work/node_modules"

nuri="$build/bin/nuri"
ortgen="$root/benchmarks/generation/ort_generate.js"
model="$work/gpt2-small-with-past.onnx"
pkg="$work/gpt2-small-with-past.nuri"
prompt_len=32
new_tokens=128
context=$((prompt_len + new_tokens))

[ -f "$model" ] || "$nuri" zoo gpt2-small --with-past -o "$model" >/dev/null
if [ ! -f "$pkg" ] || [ "$pkg" -ot "$model" ] || [ "$pkg" -ot "$nuri" ]; then
  # One prefill bucket for the prompt; decode buckets every 32 positions, so
  # attention reads at most 31 positions more than the live context.
  "$nuri" compile "$model" --generate --max-seq "$context" \
    --prefill-buckets "$prompt_len" --decode-batch 1 \
    --context-buckets 64,96,128,"$context" -o "$pkg" >/dev/null
fi

# A prompt of token ids spread over the vocabulary.
prompt=$(awk -v n="$prompt_len" 'BEGIN { for (i = 0; i < n; ++i) printf "%s%d", (i ? "," : ""), (i * 7919 + 13) % 50257 }')

field() { sed -n "s/.*\"$1\": *\([0-9.e+-]*\).*/\1/p" | head -1; }

# Warm both up once (page cache, thread pools), then measure.
"$nuri" generate "$pkg" --device cpu --prompt-ids "$prompt" --max-new-tokens 8 --json >/dev/null
nuri_json=$("$nuri" generate "$pkg" --device cpu --prompt-ids "$prompt" \
              --max-new-tokens "$new_tokens" --json | tr -d '\n ')
ort_json=$(node "$ortgen" "$model" --prompt-ids "$prompt" --max-new-tokens "$new_tokens" \
             --threads "$threads" --warmup 1 --optimize)

nuri_tps=$(echo "$nuri_json" | field tokens_per_s)
nuri_decode_s=$(echo "$nuri_json" | sed 's/.*"decode":{//' | field wall_seconds)
nuri_decode_tokens=$(echo "$nuri_json" | sed 's/.*"decode":{//' | field tokens)
ort_tps=$(echo "$ort_json" | field tokens_per_s)
ort_decode_tps=$(echo "$ort_json" | field decode_tokens_per_s)
nuri_tokens=$(echo "$nuri_json" | sed 's/.*"tokens":\[\([0-9,]*\)\].*/\1/')
ort_tokens=$(echo "$ort_json" | sed 's/.*"tokens":\[\([0-9,]*\)\].*/\1/')
same=$([ "$nuri_tokens" = "$ort_tokens" ] && echo "same tokens" || echo "TOKENS DIFFER")

awk -v a="$nuri_tps" -v b="$ort_tps" -v t="$threads" -v p="$prompt_len" -v n="$new_tokens" \
    -v ds="$nuri_decode_s" -v dt="$nuri_decode_tokens" -v od="$ort_decode_tps" -v s="$same" 'BEGIN {
  nd = ds > 0 ? dt / ds : 0
  printf "cpu generation gpt2-small prompt%d new%d batch1 threads=%d: nuri %.1f tokens/s, onnxruntime %.1f tokens/s, ratio %.2fx (goal >= 1.50x); decode only: nuri %.1f, onnxruntime %.1f tokens/s, ratio %.2fx; %s\n",
    p, n, t, a, b, a / b, nd, od, (od > 0 ? nd / od : 0), s }'
