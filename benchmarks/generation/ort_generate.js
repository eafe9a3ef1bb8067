#!/usr/bin/env node
// Greedy generation with ONNX Runtime through a decoder in optimum's
// decoder_with_past layout (or the older stacked past_N one), the loop optimum's ORTModelForCausalLM runs: a
// prefill over the prompt with an empty past, then one step per token that
// feeds the previous step's present.N.key/value back as past_key_values.N.*.
// It is the reference `nuri generate` is checked against (tokens) and
// measured against (tokens/s).
//
//   node ort_generate.js MODEL.onnx --prompt-ids 1,2,3 --max-new-tokens N
//        [--threads T] [--warmup W] [--optimize]
//
// Prints one JSON line: {"tokens": [...], "prefill_s", "decode_s", "wall_s",
// "tokens_per_s", "decode_tokens_per_s", "threads"}. By default graph
// optimizations are off (the reference the zoo's checks use); --optimize
// turns them all on, as a deployment would. Exits 77 when onnxruntime-node
// is not installed.
'use strict';

let ort;
try {
  ort = require('onnxruntime-node');
} catch (e) {
  console.error('onnxruntime-node not found: npm install --ignore-scripts ' +
                'onnxruntime-node and set NODE_PATH; skipped');
  process.exit(77);
}

function parseArgs(argv) {
  const args = {threads: 0, maxNew: 16, warmup: 0, optimize: false, prompt: null};
  for (let i = 0; i < argv.length; ++i) {
    const a = argv[i];
    if (a === '--prompt-ids') args.prompt = argv[++i].split(',').map(Number);
    else if (a === '--max-new-tokens') args.maxNew = Number(argv[++i]);
    else if (a === '--threads') args.threads = Number(argv[++i]);
    else if (a === '--warmup') args.warmup = Number(argv[++i]);
    else if (a === '--optimize') args.optimize = true;
    else if (a.startsWith('--')) throw new Error(`unknown option ${a}`);
    else args.model = a;
  }
  if (!args.model || !args.prompt || args.prompt.some((t) => !Number.isInteger(t))) {
    console.error('usage: ort_generate.js MODEL.onnx --prompt-ids 1,2,3 ' +
                  '[--max-new-tokens N] [--threads T] [--warmup W] [--optimize]');
    process.exit(2);
  }
  return args;
}

function int64(values, dims) {
  return new ort.Tensor('int64', BigInt64Array.from(values.map(BigInt)), dims);
}

// The past inputs from the session's metadata: optimum's
// past_key_values.N.key/value [batch, heads, past, dim] (present.N.*), or
// the older stacked past_N [2, batch, heads, past, dim] (present_N), as
// Megatron and ORT's fused Attention exports have them. Each entry gives the
// empty past of batch 1 and the output that is its present.
function pastInputs(session) {
  const pasts = {};
  for (const meta of session.inputMetadata || []) {
    const optimum = meta.name.startsWith('past_key_values.');
    const stacked = /^past_\d+$/.test(meta.name);
    if (!optimum && !stacked) continue;
    const dims = stacked ? meta.shape.slice(1) : meta.shape;
    const [, heads, , dim] = dims;
    if (typeof heads !== 'number' || typeof dim !== 'number' ||
        (stacked && meta.shape[0] !== 2)) {
      throw new Error(`${meta.name}: expected static heads and head_dim, got [${meta.shape}]`);
    }
    pasts[meta.name] = {
      empty: stacked ? [2, 1, heads, 0, dim] : [1, heads, 0, dim],
      present: stacked ? meta.name.replace('past_', 'present_')
                       : meta.name.replace('past_key_values.', 'present.'),
    };
  }
  if (Object.keys(pasts).length === 0) {
    throw new Error('the model has no past_key_values.N.* or past_N inputs (write it with nuri zoo --with-past)');
  }
  return pasts;
}

// An index input (input_ids, position_ids, a 2-D mask) in the dtype the
// model declares.
function indices(session, name, values, dims) {
  const meta = (session.inputMetadata || []).find((m) => m.name === name);
  if (meta && meta.type === 'int32') return new ort.Tensor('int32', Int32Array.from(values), dims);
  return int64(values, dims);
}

// The attention mask of a step: ones over [batch, total], or Megatron's
// whole [batch, 1, P, P] lower-triangular matrix, which the model slices at
// the past length itself.
function maskOf(session, total) {
  const meta = (session.inputMetadata || []).find((m) => m.name === 'attention_mask');
  if (meta && meta.shape.length === 4) {
    const side = meta.shape[3];
    const data = new Float32Array(side * side);
    for (let i = 0; i < side; ++i) {
      for (let j = 0; j <= i; ++j) data[i * side + j] = 1;
    }
    return new ort.Tensor('float32', data, [1, 1, side, side]);
  }
  return indices(session, 'attention_mask', Array(total).fill(1), [1, total]);
}

function argmaxLast(logits) {
  const [, seq, vocab] = logits.dims;
  const base = (seq - 1) * vocab;
  let best = 0;
  for (let v = 1; v < vocab; ++v) {
    if (logits.data[base + v] > logits.data[base + best]) best = v;
  }
  return best;
}

async function generate(session, pasts, args) {
  const names = new Set(session.inputNames);
  let past = {};
  for (const [name, p] of Object.entries(pasts)) {
    past[name] = new ort.Tensor('float32', new Float32Array(0), p.empty);
  }
  const tokens = [];
  let ids = args.prompt;
  let pastLength = 0;
  const started = process.hrtime.bigint();
  let prefillEnd = started;
  for (let step = 0; step < args.maxNew; ++step) {
    const total = pastLength + ids.length;
    const feeds = {input_ids: indices(session, 'input_ids', ids, [1, ids.length]), ...past};
    if (names.has('attention_mask')) feeds.attention_mask = maskOf(session, total);
    if (names.has('position_ids')) {
      feeds.position_ids = indices(session, 'position_ids', ids.map((_, i) => pastLength + i),
                                   [1, ids.length]);
    }
    const out = await session.run(feeds);
    const next = argmaxLast(out.logits);
    tokens.push(next);
    past = {};
    for (const [name, p] of Object.entries(pasts)) past[name] = out[p.present];
    pastLength = total;
    ids = [next];
    if (step === 0) prefillEnd = process.hrtime.bigint();
  }
  const ended = process.hrtime.bigint();
  return {
    tokens,
    prefill_s: Number(prefillEnd - started) / 1e9,
    decode_s: Number(ended - prefillEnd) / 1e9,
    wall_s: Number(ended - started) / 1e9,
  };
}

(async () => {
  const args = parseArgs(process.argv.slice(2));
  const options = {
    graphOptimizationLevel: args.optimize ? 'all' : 'disabled',
  };
  if (args.threads > 0) {
    options.intraOpNumThreads = args.threads;
    options.interOpNumThreads = 1;
  }
  const session = await ort.InferenceSession.create(args.model, options);
  const pasts = pastInputs(session);
  for (let i = 0; i < args.warmup; ++i) await generate(session, pasts, args);
  const r = await generate(session, pasts, args);
  const decoded = r.tokens.length - 1;
  console.log(JSON.stringify({
    model: args.model,
    threads: args.threads,
    optimize: args.optimize,
    tokens: r.tokens,
    prefill_s: r.prefill_s,
    decode_s: r.decode_s,
    wall_s: r.wall_s,
    tokens_per_s: r.tokens.length / r.wall_s,
    decode_tokens_per_s: decoded > 0 ? decoded / r.decode_s : 0,
  }));
})().catch((e) => {
  console.error(`ort_generate.js: ${e.message}`);
  process.exit(1);
});
