#!/usr/bin/env node
// Runs zoo models in ONNX Runtime and checks that every output is finite.
// The zoo's unit tests prove the files are valid ONNX; this proves they
// compute something sensible, with an independent runtime as the judge.
//
//   NODE_PATH=/tmp/ort/node_modules node ort_check.js model.onnx...
//
// Exits 77 (ctest's "skipped") when onnxruntime-node is not installed.
'use strict';

let ort;
try {
  ort = require('onnxruntime-node');
} catch (e) {
  console.log('onnxruntime-node not found (npm install onnxruntime-node and set NODE_PATH); skipped');
  process.exit(77);
}

const batch = 2;
const sequence = 8;

// A fixed LCG so that the inputs are the same on every run.
let state = 12345;
function uniform() {
  state = (state * 1103515245 + 12345) % 2147483648;
  return state / 2147483648;
}

function int64(dims, f) {
  const n = dims.reduce((a, b) => a * b, 1);
  const data = new BigInt64Array(n);
  for (let i = 0; i < n; ++i) data[i] = BigInt(f(i));
  return new ort.Tensor('int64', data, dims);
}

function float32(dims) {
  const n = dims.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; ++i) data[i] = uniform() * 2 - 1;
  return new ort.Tensor('float32', data, dims);
}

function makeInput(name) {
  const dims = [batch, sequence];
  switch (name) {
    case 'input_ids':
      return int64(dims, () => 1 + Math.floor(uniform() * 1000));
    case 'attention_mask':
      // The second row is padded at its end, so masks are exercised.
      return int64(dims, (i) => (i >= sequence && i % sequence >= sequence - 3 ? 0 : 1));
    case 'token_type_ids':
      return int64(dims, (i) => (i % sequence >= sequence / 2 ? 1 : 0));
    case 'position_ids':
      return int64(dims, (i) => i % sequence);
    case 'pixel_values':
      return float32([batch, 3, 224, 224]);
    case 'input_features':
      return float32([batch, 80, 3000]);
    default:
      throw new Error(`no recipe for input '${name}'`);
  }
}

async function check(path) {
  const started = Date.now();
  const session = await ort.InferenceSession.create(path, {
    graphOptimizationLevel: 'disabled',
  });
  const feeds = {};
  for (const name of session.inputNames) feeds[name] = makeInput(name);
  const results = await session.run(feeds);
  let ok = true;
  for (const name of session.outputNames) {
    const t = results[name];
    let sum = 0;
    let finite = true;
    for (const v of t.data) {
      if (!Number.isFinite(v)) finite = false;
      sum += Math.abs(v);
    }
    ok = ok && finite;
    console.log(`${path}: ${name} [${t.dims.join(',')}] mean|x|=${(sum / t.data.length).toPrecision(4)} ${finite ? 'finite' : 'NOT FINITE'}`);
  }
  console.log(`${path}: ${ok ? 'OK' : 'FAIL'} (${Date.now() - started} ms)`);
  return ok;
}

(async () => {
  let ok = true;
  for (const path of process.argv.slice(2)) {
    try {
      ok = (await check(path)) && ok;
    } catch (e) {
      console.log(`${path}: FAIL ${e.message}`);
      ok = false;
    }
  }
  process.exit(ok ? 0 : 1);
})();
