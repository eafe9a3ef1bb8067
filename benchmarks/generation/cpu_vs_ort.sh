#!/usr/bin/env bash
# Generation on the CPU: zoo gpt2-small --with-past, a 32-token prompt, 128
# new tokens, batch 1, greedy. `nuri generate --device cpu` against ONNX
# Runtime's CPU provider running the same ONNX file the way optimum does
# (prefill with an empty past, then one run per token with present fed back
# as past), in one run on the same machine. Prints, for nuri's fp32 family
# and its bf16 family, tokens/s and the ratio to ONNX Runtime's fp32 (issue
# 10's goal: nuri >= 1.5x onnxruntime), overall and decode-only, and how many
# greedy tokens equal ONNX Runtime's.
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
prompt_len=32
new_tokens=128
context=$((prompt_len + new_tokens))

[ -f "$model" ] || "$nuri" zoo gpt2-small --with-past -o "$model" >/dev/null
# The family in fp32 (ONNX Runtime's precision: the same tokens) and in
# bf16 (a bf16 weight, cache and activations: half the bytes per token,
# which is what bounds a decode step).
for dtype in fp32 bf16; do
  pkg="$work/gpt2-small-with-past-$dtype.nuri"
  if [ ! -f "$pkg" ] || [ "$pkg" -ot "$model" ] || [ "$pkg" -ot "$nuri" ]; then
    # One prefill bucket for the prompt; decode buckets every 32 positions,
    # so attention reads at most 31 positions more than the live context.
    "$nuri" compile "$model" --dtype "$dtype" --generate --max-seq "$context" \
      --prefill-buckets "$prompt_len" --decode-batch 1 \
      --context-buckets 64,96,128,"$context" -o "$pkg" >/dev/null
  fi
done

# A prompt of token ids spread over the vocabulary.
prompt=$(awk -v n="$prompt_len" 'BEGIN { for (i = 0; i < n; ++i) printf "%s%d", (i ? "," : ""), (i * 7919 + 13) % 50257 }')


ort_json=$(node "$ortgen" "$model" --prompt-ids "$prompt" --max-new-tokens "$new_tokens" \
             --threads "$threads" --warmup 1 --optimize)
for dtype in fp32 bf16; do
  pkg="$work/gpt2-small-with-past-$dtype.nuri"
  # Warm up once (page cache, thread pools), then measure.
  "$nuri" generate "$pkg" --device cpu --prompt-ids "$prompt" --max-new-tokens 8 --json >/dev/null
  nuri_json=$("$nuri" generate "$pkg" --device cpu --prompt-ids "$prompt" \
                --max-new-tokens "$new_tokens" --json | tr -d '\n ')
  # Both print JSON; node (needed for ONNX Runtime anyway) reads it.
  NURI_JSON="$nuri_json" ORT_JSON="$ort_json" node -e '
    const n = JSON.parse(process.env.NURI_JSON), o = JSON.parse(process.env.ORT_JSON);
    const [dtype, threads, promptLen, newTokens] = process.argv.slice(1);
    const nuriDecode = n.decode.tokens / n.decode.wall_seconds;
    const a = n.requests[0].tokens, b = o.tokens;
    let same = 0;
    while (same < a.length && a[same] === b[same]) ++same;
    const f = (x, d) => x.toFixed(d);
    console.log(`cpu generation gpt2-small prompt${promptLen} new${newTokens} batch1 ` +
      `threads=${threads} nuri ${dtype} vs onnxruntime fp32: nuri ${f(n.tokens_per_s, 1)} ` +
      `tokens/s, onnxruntime ${f(o.tokens_per_s, 1)} tokens/s, ratio ` +
      `${f(n.tokens_per_s / o.tokens_per_s, 2)}x (goal >= 1.50x); decode only: nuri ` +
      `${f(nuriDecode, 1)}, onnxruntime ${f(o.decode_tokens_per_s, 1)} tokens/s, ratio ` +
      `${f(nuriDecode / o.decode_tokens_per_s, 2)}x; prefill nuri ` +
      `${f(n.prefill.wall_seconds * 1000, 0)} ms, onnxruntime ${f(o.prefill_s * 1000, 0)} ms; ` +
      `the first ${same} of ${b.length} tokens equal to onnxruntime`);
  ' "$dtype" "$threads" "$prompt_len" "$new_tokens"
done
