#!/usr/bin/env node
// Runs zoo models in ONNX Runtime and checks that every output is finite.
// The zoo's unit tests prove the files are valid ONNX; this proves they
// compute something sensible, with an independent runtime as the judge.
//
//   NODE_PATH=/tmp/ort/node_modules node ort_check.js model.onnx...
//   node ort_check.js --feeds DIR model.onnx
//
// With --feeds, the inputs come from DIR/feeds.json (written by
// reference.py) and the outputs go to DIR/outputs.json plus raw .bin files,
// for reference.py to compare against its numpy implementation.
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

const fs = require('fs');
const pathLib = require('path');

function readFeeds(dir) {
  const feeds = {};
  for (const input of JSON.parse(fs.readFileSync(pathLib.join(dir, 'feeds.json')))) {
    const bytes = fs.readFileSync(input.file);
    const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length);
    const data = input.type === 'int64' ? new BigInt64Array(buffer) : new Float32Array(buffer);
    feeds[input.name] = new ort.Tensor(input.type, data, input.dims);
  }
  return feeds;
}

function writeOutputs(dir, results) {
  const manifest = [];
  for (const [name, tensor] of Object.entries(results)) {
    const file = pathLib.join(dir, `out.${name.replace(/[^A-Za-z0-9_.-]/g, '_')}.bin`);
    fs.writeFileSync(file, Buffer.from(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength));
    manifest.push({ name, file, dims: tensor.dims });
  }
  fs.writeFileSync(pathLib.join(dir, 'outputs.json'), JSON.stringify(manifest));
}

async function check(path, feedsDir) {
  const started = Date.now();
  const session = await ort.InferenceSession.create(path, {
    graphOptimizationLevel: 'disabled',
  });
  let feeds = {};
  if (feedsDir) {
    feeds = readFeeds(feedsDir);
  } else {
    for (const name of session.inputNames) feeds[name] = makeInput(name);
  }
  const results = await session.run(feeds);
  if (feedsDir) writeOutputs(feedsDir, results);
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
  let args = process.argv.slice(2);
  let feedsDir = null;
  if (args[0] === '--feeds') {
    feedsDir = args[1];
    args = args.slice(2);
  }
  for (const path of args) {
    try {
      ok = (await check(path, feedsDir)) && ok;
    } catch (e) {
      console.log(`${path}: FAIL ${e.message}`);
      ok = false;
    }
  }
  process.exit(ok ? 0 : 1);
})();
