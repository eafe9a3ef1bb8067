#!/usr/bin/env node
// ONNX Runtime's CPU latency on a model, the baseline Nuri's CPU device is
// measured against in the same run.
//
//   node ort_latency.js MODEL.onnx --threads N [--iters 20] [--warmup 3]
//        [--input NAME=1x128[:int64|float32]] ...
//
// Inputs not given are generated: int64 inputs named like ids get small
// token ids, masks get ones, float inputs a fixed pseudo-random pattern.
// Prints one JSON line: {"model", "threads", "median_ms", "min_ms", "iters"}.
// Exits 77 when onnxruntime-node is not installed.
'use strict';

let ort;
try {
  ort = require('onnxruntime-node');
} catch (e) {
  console.error('onnxruntime-node not found: npm install --ignore-scripts onnxruntime-node');
  process.exit(77);
}

function parseArgs(argv) {
  const args = {threads: 1, iters: 20, warmup: 3, inputs: {}};
  for (let i = 0; i < argv.length; ++i) {
    const a = argv[i];
    if (a === '--threads') args.threads = Number(argv[++i]);
    else if (a === '--iters') args.iters = Number(argv[++i]);
    else if (a === '--warmup') args.warmup = Number(argv[++i]);
    else if (a === '--input') {
      const [name, spec] = argv[++i].split('=');
      const [dims, type] = spec.split(':');
      args.inputs[name] = {dims: dims.split('x').map(Number), type};
    } else args.model = a;
  }
  if (!args.model) {
    console.error('usage: ort_latency.js MODEL.onnx --threads N [--input NAME=DIMS[:TYPE]]');
    process.exit(2);
  }
  return args;
}

function makeTensor(name, dims, type) {
  const n = dims.reduce((a, b) => a * b, 1);
  if (type === 'int64') {
    const data = new BigInt64Array(n);
    // Masks keep every token, type ids are segment 0, positions count up,
    // token ids spread over a small vocabulary prefix.
    const last = dims[dims.length - 1];
    for (let i = 0; i < n; ++i) {
      let v = (i * 7919) % 1000 + 1;
      if (/mask/.test(name)) v = 1;
      else if (/type/.test(name)) v = 0;
      else if (/position/.test(name)) v = i % last;
      data[i] = BigInt(v);
    }
    return new ort.Tensor('int64', data, dims);
  }
  const data = new Float32Array(n);
  for (let i = 0; i < n; ++i) data[i] = Math.sin(i * 0.37) * 0.5;
  return new ort.Tensor('float32', data, dims);
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const session = await ort.InferenceSession.create(args.model, {
    intraOpNumThreads: args.threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
  });
  const feeds = {};
  for (const name of session.inputNames) {
    const spec = args.inputs[name];
    if (!spec) {
      console.error(`no shape for input '${name}': pass --input ${name}=DIMS`);
      process.exit(2);
    }
    const type = spec.type || (/ids|mask/.test(name) ? 'int64' : 'float32');
    feeds[name] = makeTensor(name, spec.dims, type);
  }
  for (let i = 0; i < args.warmup; ++i) await session.run(feeds);
  const times = [];
  for (let i = 0; i < args.iters; ++i) {
    const start = process.hrtime.bigint();
    await session.run(feeds);
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  times.sort((a, b) => a - b);
  console.log(JSON.stringify({
    model: args.model, threads: args.threads, iters: args.iters,
    median_ms: times[Math.floor(times.length / 2)], min_ms: times[0],
  }));
}

main().catch((e) => {
  console.error(String(e));
  process.exit(1);
});
