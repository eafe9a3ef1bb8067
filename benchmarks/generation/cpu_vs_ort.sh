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


# Warm both up once (page cache, thread pools), then measure.
"$nuri" generate "$pkg" --device cpu --prompt-ids "$prompt" --max-new-tokens 8 --json >/dev/null
nuri_json=$("$nuri" generate "$pkg" --device cpu --prompt-ids "$prompt" \
              --max-new-tokens "$new_tokens" --json | tr -d '\n ')
ort_json=$(node "$ortgen" "$model" --prompt-ids "$prompt" --max-new-tokens "$new_tokens" \
             --threads "$threads" --warmup 1 --optimize)

# Both print JSON; node (needed for ONNX Runtime anyway) reads it.
summary=$(NURI_JSON="$nuri_json" ORT_JSON="$ort_json" node -e '
  const n = JSON.parse(process.env.NURI_JSON), o = JSON.parse(process.env.ORT_JSON);
  const nuriDecode = n.decode.tokens / n.decode.wall_seconds;
  const same = JSON.stringify(n.requests[0].tokens) === JSON.stringify(o.tokens);
  console.log([n.tokens_per_s, o.tokens_per_s, nuriDecode, o.decode_tokens_per_s,
               n.prefill.wall_seconds, o.prefill_s,
               same ? "same tokens" : "TOKENS DIFFER"].join(" "));')
read -r nuri_tps ort_tps nuri_decode ort_decode nuri_prefill ort_prefill same <<<"$summary"

awk -v a="$nuri_tps" -v b="$ort_tps" -v t="$threads" -v p="$prompt_len" -v n="$new_tokens" \
    -v nd="$nuri_decode" -v od="$ort_decode" -v np="$nuri_prefill" -v op="$ort_prefill" \
    -v s="$same" 'BEGIN {
  printf "cpu generation gpt2-small prompt%d new%d batch1 threads=%d: nuri %.1f tokens/s, onnxruntime %.1f tokens/s, ratio %.2fx (goal >= 1.50x); decode only: nuri %.1f, onnxruntime %.1f tokens/s, ratio %.2fx; prefill nuri %.0f ms, onnxruntime %.0f ms; %s\n",
    p, n, t, a, b, a / b, nd, od, nd / od, np * 1000, op * 1000, s }'
