// RUN: nuri-opt %s -split-input-file | nuri-opt | FileCheck %s
// Every op prints in a form that parses back to the same op.

// CHECK-LABEL: func @elementwise
func.func @elementwise(%a: tensor<2x3xf32>, %b: tensor<3xf32>, %i: tensor<2x3xi64>) -> tensor<2x3xf32> {
  // CHECK: nuri.add %{{.*}}, %{{.*}} : tensor<2x3xf32>, tensor<3xf32> -> tensor<2x3xf32>
  %0 = nuri.add %a, %b : tensor<2x3xf32>, tensor<3xf32> -> tensor<2x3xf32>
  // CHECK: nuri.gelu %{{.*}} {approximate = #nuri<gelu tanh>} : tensor<2x3xf32>
  %1 = nuri.gelu %0 {approximate = #nuri<gelu tanh>} : tensor<2x3xf32>
  // CHECK: nuri.compare lt, %{{.*}}, %{{.*}} : tensor<2x3xf32>, tensor<3xf32> -> tensor<2x3xi1>
  %2 = nuri.compare lt, %1, %b : tensor<2x3xf32>, tensor<3xf32> -> tensor<2x3xi1>
  // CHECK: nuri.where
  %3 = nuri.where %2, %1, %a : tensor<2x3xi1>, tensor<2x3xf32>, tensor<2x3xf32> -> tensor<2x3xf32>
  // CHECK: nuri.cast %{{.*}} : tensor<2x3xi64> -> tensor<2x3xf32>
  %4 = nuri.cast %i : tensor<2x3xi64> -> tensor<2x3xf32>
  %5 = nuri.exp %4 : tensor<2x3xf32>
  %6 = nuri.mul %3, %5 : tensor<2x3xf32>, tensor<2x3xf32> -> tensor<2x3xf32>
  return %6 : tensor<2x3xf32>
}

// -----

// CHECK-LABEL: func @transformer_blocks
func.func @transformer_blocks(%x: tensor<1x16x64xf32>, %g: tensor<64xf32>, %w: tensor<64x192xf32>,
                              %cos: tensor<1x1x16x16xf32>, %sin: tensor<1x1x16x16xf32>) -> tensor<1x16x64xf32> {
  // CHECK: nuri.layer_norm
  %n = nuri.layer_norm %x, %g, %g {axis = 2 : i64, epsilon = 1.0e-5 : f32} : (tensor<1x16x64xf32>, tensor<64xf32>, tensor<64xf32>) -> tensor<1x16x64xf32>
  // CHECK: nuri.rms_norm
  %r = nuri.rms_norm %n, %g {axis = 2 : i64, epsilon = 1.0e-6 : f32} : (tensor<1x16x64xf32>, tensor<64xf32>) -> tensor<1x16x64xf32>
  // CHECK: nuri.linear
  %qkv = nuri.linear %r, %w : (tensor<1x16x64xf32>, tensor<64x192xf32>) -> tensor<1x16x192xf32>
  // CHECK: nuri.split
  %q, %k, %v = nuri.split %qkv {axis = 2 : i64, sizes = array<i64: 64, 64, 64>} : tensor<1x16x192xf32> -> tensor<1x16x64xf32>, tensor<1x16x64xf32>, tensor<1x16x64xf32>
  %q4 = nuri.reshape %q : tensor<1x16x64xf32> -> tensor<1x16x4x16xf32>
  %k4 = nuri.reshape %k : tensor<1x16x64xf32> -> tensor<1x16x2x32xf32>
  %v4 = nuri.reshape %v : tensor<1x16x64xf32> -> tensor<1x16x4x16xf32>
  // CHECK: nuri.transpose
  %qt = nuri.transpose %q4 {permutation = array<i64: 0, 2, 1, 3>} : tensor<1x16x4x16xf32> -> tensor<1x4x16x16xf32>
  %vt = nuri.transpose %v4 {permutation = array<i64: 0, 2, 1, 3>} : tensor<1x16x4x16xf32> -> tensor<1x4x16x16xf32>
  %kh = nuri.slice %vt {starts = array<i64: 0, 0, 0, 0>, limits = array<i64: 1, 2, 16, 16>, steps = array<i64: 1, 1, 1, 1>} : tensor<1x4x16x16xf32> -> tensor<1x2x16x16xf32>
  // CHECK: nuri.rope
  %qr = nuri.rope %qt, %cos, %sin : (tensor<1x4x16x16xf32>, tensor<1x1x16x16xf32>, tensor<1x1x16x16xf32>) -> tensor<1x4x16x16xf32>
  // CHECK: nuri.attention {{.*}} {causal, scale = 2.500000e-01 : f32}
  %o = nuri.attention %qr, %kh, %kh {scale = 0.25 : f32, causal} : (tensor<1x4x16x16xf32>, tensor<1x2x16x16xf32>, tensor<1x2x16x16xf32>) -> tensor<1x4x16x16xf32>
  %ot = nuri.transpose %o {permutation = array<i64: 0, 2, 1, 3>} : tensor<1x4x16x16xf32> -> tensor<1x16x4x16xf32>
  %m = nuri.reshape %ot : tensor<1x16x4x16xf32> -> tensor<1x16x64xf32>
  // CHECK: nuri.reduce_mean
  %s = nuri.reduce_mean %m {axes = array<i64: 2>, keep_dims} : tensor<1x16x64xf32> -> tensor<1x16x1xf32>
  // CHECK: nuri.softmax
  %p = nuri.softmax %m {axis = 2 : i64} : tensor<1x16x64xf32>
  %y = nuri.sub %p, %s : tensor<1x16x64xf32>, tensor<1x16x1xf32> -> tensor<1x16x64xf32>
  return %y : tensor<1x16x64xf32>
}

// -----

// CHECK-LABEL: func @misc
func.func @misc(%img: tensor<1x3x32x32xf32>, %w: tensor<8x3x16x16xf32>, %table: tensor<100x8xf32>, %ids: tensor<1x4xi64>) -> (tensor<1x8x2x2xf32>, tensor<1x4x8xf32>, tensor<2x8xi8>) {
  // CHECK: nuri.conv
  %c = nuri.conv %img, %w {strides = array<i64: 16, 16>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x3x32x32xf32>, tensor<8x3x16x16xf32>) -> tensor<1x8x2x2xf32>
  // CHECK: nuri.gather
  %e = nuri.gather %table, %ids {axis = 0 : i64} : tensor<100x8xf32>, tensor<1x4xi64> -> tensor<1x4x8xf32>
  // CHECK: nuri.constant dense<5.000000e-01> : tensor<f32>
  %s = nuri.constant dense<0.5> : tensor<f32>
  %t = nuri.slice %table {starts = array<i64: 0, 0>, limits = array<i64: 2, 8>, steps = array<i64: 1, 1>} : tensor<100x8xf32> -> tensor<2x8xf32>
  // CHECK: nuri.quantize
  %q = nuri.quantize %t, %s : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xi8>
  // CHECK: nuri.onnx_op "TopK"
  %v, %i = nuri.onnx_op "TopK"(%t) {domain = "", opset = 17 : i64, onnx_attributes = {axis = -1 : i64}} : (tensor<2x8xf32>) -> (tensor<2x3xf32>, tensor<2x3xi64>)
  return %c, %e, %q : tensor<1x8x2x2xf32>, tensor<1x4x8xf32>, tensor<2x8xi8>
}

// -----

// The chip a module is compiled for: a name, or a name and its config.
// CHECK: module attributes {nuri.target = #nuri.target<"tiny">}
module attributes {nuri.target = #nuri.target<"tiny">} {
}

// -----

// CHECK: module attributes {nuri.target = #nuri.target<"small", config = "name: small\0Aclock_hz: 1GHz\0A{{.*}}">}
module attributes {nuri.target = #nuri.target<"small", config = "name: small\nclock_hz: 1GHz\ncores: 2\nmatrix: {rows: 8, cols: 8, macs_per_cycle: {bf16: 64}, acc_bytes: 16KiB}\nvector: {lanes: 8, pipeline_depth: 4}\nsram: {bytes_per_core: 256KiB, banks: 4, bank_width_bytes: 16}\ndram: {bytes: 64MiB, bytes_per_s: 16GB, latency_cycles: 50}\ndma: {outstanding: 4, bytes_per_cycle: 16}\nnoc: {bytes_per_cycle: 32, latency_cycles: 10}\n">} {
}

// -----

// The three read-outs of quantized_matmul, and dynamic_quantize.
// CHECK-LABEL: func @quantized
// CHECK: nuri.dynamic_quantize %arg0 : (tensor<2x8xf32>) -> (tensor<2x8xui8>, tensor<f32>, tensor<ui8>)
// CHECK: nuri.quantized_matmul %{{.*}}, %arg1 zero_points(%{{.*}}, %arg2) : (tensor<2x8xui8>, tensor<8x4xi8>, tensor<ui8>, tensor<4xi8>) -> tensor<2x4xi32>
// CHECK: nuri.quantized_matmul %{{.*}}, %arg1 zero_points(%{{.*}}, %arg2) scales(%{{.*}}, %arg3) : (tensor<2x8xui8>, tensor<8x4xi8>, tensor<ui8>, tensor<4xi8>, tensor<f32>, tensor<4xf32>) -> tensor<2x4xf32>
// CHECK: nuri.quantized_matmul %{{.*}}, %arg1 zero_points(%{{.*}}, %arg2) scales(%{{.*}}, %arg3) requantize(%{{.*}}, %{{.*}}) : (tensor<2x8xui8>, tensor<8x4xi8>, tensor<ui8>, tensor<4xi8>, tensor<f32>, tensor<4xf32>, tensor<f32>, tensor<ui8>) -> tensor<2x4xui8>
func.func @quantized(%x: tensor<2x8xf32>, %w: tensor<8x4xi8>, %wz: tensor<4xi8>, %ws: tensor<4xf32>) -> (tensor<2x4xi32>, tensor<2x4xf32>, tensor<2x4xui8>) {
  %q, %s, %z = nuri.dynamic_quantize %x : (tensor<2x8xf32>) -> (tensor<2x8xui8>, tensor<f32>, tensor<ui8>)
  %i = nuri.quantized_matmul %q, %w zero_points(%z, %wz) : (tensor<2x8xui8>, tensor<8x4xi8>, tensor<ui8>, tensor<4xi8>) -> tensor<2x4xi32>
  %f = nuri.quantized_matmul %q, %w zero_points(%z, %wz) scales(%s, %ws) : (tensor<2x8xui8>, tensor<8x4xi8>, tensor<ui8>, tensor<4xi8>, tensor<f32>, tensor<4xf32>) -> tensor<2x4xf32>
  %r = nuri.quantized_matmul %q, %w zero_points(%z, %wz) scales(%s, %ws) requantize(%s, %z) : (tensor<2x8xui8>, tensor<8x4xi8>, tensor<ui8>, tensor<4xi8>, tensor<f32>, tensor<4xf32>, tensor<f32>, tensor<ui8>) -> tensor<2x4xui8>
  return %i, %f, %r : tensor<2x4xi32>, tensor<2x4xf32>, tensor<2x4xui8>
}

// -----

// fp8 operands (--quantize fp8): the float read-out.
// CHECK-LABEL: func @quantized_fp8
// CHECK: nuri.quantized_matmul %arg0, %arg1 zero_points(%arg2, %arg2) scales(%arg3, %arg4) : (tensor<2x8xf8E4M3FN>, tensor<8x4xf8E4M3FN>, tensor<f8E4M3FN>, tensor<f8E4M3FN>, tensor<f32>, tensor<4xf32>) -> tensor<2x4xf32>
func.func @quantized_fp8(%x: tensor<2x8xf8E4M3FN>, %w: tensor<8x4xf8E4M3FN>, %z: tensor<f8E4M3FN>, %s: tensor<f32>, %ws: tensor<4xf32>) -> tensor<2x4xf32> {
  %f = nuri.quantized_matmul %x, %w zero_points(%z, %z) scales(%s, %ws) : (tensor<2x8xf8E4M3FN>, tensor<8x4xf8E4M3FN>, tensor<f8E4M3FN>, tensor<f8E4M3FN>, tensor<f32>, tensor<4xf32>) -> tensor<2x4xf32>
  return %f : tensor<2x4xf32>
}

// -----

// CHECK-LABEL: func @kv_cache
// CHECK: nuri.cache_write %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} : (tensor<8x4x256x32xf32>, tensor<2x4x1x32xf32>, tensor<2xi64>, tensor<2xi64>) -> tensor<8x4x256x32xf32>
// CHECK: nuri.cache_attention %{{.*}} {context_length = 64 : i64, scale = 1.250000e-01 : f32}
func.func @kv_cache(%c: tensor<8x4x256x32xf32>, %k: tensor<2x4x1x32xf32>, %s: tensor<2xi64>, %p: tensor<2xi64>, %q: tensor<2x8x1x32xf32>, %m: tensor<2x1x1x64xf32>) -> tensor<2x8x1x32xf32> {
  %w = nuri.cache_write %c, %k, %s, %p : (tensor<8x4x256x32xf32>, tensor<2x4x1x32xf32>, tensor<2xi64>, tensor<2xi64>) -> tensor<8x4x256x32xf32>
  %o = nuri.cache_attention %q, %w, %w, %s, %m {context_length = 64 : i64, scale = 0.125 : f32} : (tensor<2x8x1x32xf32>, tensor<8x4x256x32xf32>, tensor<8x4x256x32xf32>, tensor<2xi64>, tensor<2x1x1x64xf32>) -> tensor<2x8x1x32xf32>
  return %o : tensor<2x8x1x32xf32>
}

// -----

// MatMulNBits' blocked weight, with and without zero points.
// CHECK-LABEL: func @dequantize_blocked
// CHECK: nuri.dequantize_blocked %arg0, %arg1 {bits = 4 : i64, block_size = 32 : i64} : (tensor<4x2x16xui8>, tensor<4x2xf32>) -> tensor<50x4xf32>
// CHECK: nuri.dequantize_blocked %arg0, %arg1, %arg2 {bits = 4 : i64, block_size = 32 : i64} : (tensor<4x2x16xui8>, tensor<4x2xf32>, tensor<4x1xui8>) -> tensor<64x4xf32>
func.func @dequantize_blocked(%q: tensor<4x2x16xui8>, %s: tensor<4x2xf32>, %z: tensor<4x1xui8>) -> (tensor<50x4xf32>, tensor<64x4xf32>) {
  %a = nuri.dequantize_blocked %q, %s {bits = 4 : i64, block_size = 32 : i64} : (tensor<4x2x16xui8>, tensor<4x2xf32>) -> tensor<50x4xf32>
  %b = nuri.dequantize_blocked %q, %s, %z {bits = 4 : i64, block_size = 32 : i64} : (tensor<4x2x16xui8>, tensor<4x2xf32>, tensor<4x1xui8>) -> tensor<64x4xf32>
  return %a, %b : tensor<50x4xf32>, tensor<64x4xf32>
}
